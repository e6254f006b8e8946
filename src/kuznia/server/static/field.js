// Field entry that works with no connection: every record goes to IndexedDB first, then is
// sent to POST /api/v1/uses (idempotent on use_id) whenever there is a connection; a record
// leaves the device only when the server says it is stored. The service worker (sw.js)
// keeps this page and its files so that it opens offline too.
"use strict";
(function () {
  const form = document.getElementById("field-form");
  if (!form) return;
  const account = form.dataset.account;
  const spec = JSON.parse(document.getElementById("field-spec").textContent);
  const net = document.getElementById("net");
  const list = document.getElementById("pending");
  const msg = document.getElementById("form-msg");
  let sending = false;

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
  }

  function db() {
    return new Promise(function (resolve, reject) {
      const req = indexedDB.open("kuznia-field", 1);
      req.onupgradeneeded = function () { req.result.createObjectStore("records", { keyPath: "use_id" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function tx(mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        const t = d.transaction("records", mode);
        const out = fn(t.objectStore("records"));
        t.oncomplete = function () { resolve(out && out.result); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  const all = function () { return tx("readonly", function (s) { return s.getAll(); }); };
  const put = function (item) { return tx("readwrite", function (s) { s.put(item); }); };
  const drop = function (id) { return tx("readwrite", function (s) { s.delete(id); }); };

  function newId() {
    const u = (self.crypto && crypto.randomUUID) ? crypto.randomUUID()
      : Date.now().toString(36) + Math.random().toString(36).slice(2);
    return "F-" + u;
  }
  function fresh() {
    form.elements.use_id.value = newId();
    spec.forEach(function (f) { showError(f.name, ""); });
  }
  function showError(name, text) {
    const el = document.getElementById("err-" + name);
    const input = form.elements[name];
    if (el) el.textContent = text;
    if (input) input.setAttribute("aria-invalid", text ? "true" : "false");
  }

  // The checks of an import row that need nothing stored (the server does the rest).
  function check(record) {
    const problems = {};
    spec.forEach(function (f) {
      const v = record[f.name];
      if (v === null) {
        if (f.required && !(f.kind === "int" && f.default)) problems[f.name] = "required";
        return;
      }
      if (f.kind === "int") {
        if (!/^[0-9]+$/.test(v)) problems[f.name] = "must be a whole number";
        else if (f.minimum !== null && Number(v) < f.minimum) problems[f.name] = "must be at least " + f.minimum;
      } else if (f.kind === "date") {
        const d = new Date(v + "T00:00:00Z");
        if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || isNaN(d) || d.toISOString().slice(0, 10) !== v) problems[f.name] = "must be a date, YYYY-MM-DD";
      } else if (f.kind === "choice" && f.choices.indexOf(v) < 0) {
        problems[f.name] = "must be one of " + f.choices.join(", ");
      }
    });
    return problems;
  }

  function read() {
    const record = {};
    spec.forEach(function (f) {
      const v = (form.elements[f.name].value || "").trim();
      record[f.name] = v === "" ? null : v;
    });
    return record;
  }

  function render() {
    return all().then(function (items) {
      items = items.filter(function (i) { return i.account === account; });
      list.textContent = "";
      if (!items.length) {
        const li = document.createElement("li");
        li.textContent = "Nothing waiting.";
        list.appendChild(li);
        return;
      }
      items.sort(function (a, b) { return a.saved_at < b.saved_at ? -1 : 1; });
      items.forEach(function (i) {
        const li = document.createElement("li");
        li.className = "pending-item " + i.state;
        li.dataset.useId = i.use_id;
        li.textContent = i.use_id + " · " + (i.record.used_on || "") + " · " + (i.record.product_id || "") +
          " · " + (i.state === "pending" ? "pending: waiting for a connection" : "refused: " + i.problem);
        list.appendChild(li);
      });
    });
  }

  function setNet() {
    net.textContent = navigator.onLine ? "Online: records are sent as they are saved."
      : "Offline: records are kept on this device and sent when the connection returns.";
    net.className = "net " + (navigator.onLine ? "online" : "offline");
  }

  function problemText(body) {
    if (body && body.problems && body.problems.length) {
      return body.problems.map(function (p) { return p.column + ": " + p.message; }).join("; ");
    }
    return (body && body.detail) || "refused";
  }

  function sendAll() {
    if (sending) return Promise.resolve();
    sending = true;
    let token = null;
    return fetch("/api/v1/me", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) throw new Error("login");
        return r.json();
      })
      .then(function (me) { token = me.csrf_token; return all(); })
      .then(function (items) {
        items = items.filter(function (i) { return i.account === account && i.state === "pending"; });
        return items.reduce(function (chain, item) {
          return chain.then(function () {
            return fetch("/api/v1/uses", {
              method: "POST", credentials: "same-origin",
              headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
              body: JSON.stringify(item.record)
            }).then(function (r) {
              if (r.status === 200 || r.status === 201) return drop(item.use_id);
              return r.json().catch(function () { return {}; }).then(function (body) {
                if (r.status >= 500) return;  // kept, tried again later
                item.state = "refused";
                item.problem = problemText(body);
                item.problems = body.problems || [];
                return put(item);
              });
            });
          });
        }, Promise.resolve());
      })
      .catch(function (e) {
        if (e && e.message === "login") net.textContent = "The session has ended: log in again to send the records kept here.";
      })
      .finally(function () { sending = false; return render(); });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const record = read();
    spec.forEach(function (f) { showError(f.name, ""); });
    const problems = check(record);
    const names = Object.keys(problems);
    if (names.length) {
      names.forEach(function (n) { showError(n, problems[n]); });
      msg.textContent = "Not saved: " + names.length + " field(s) to correct.";
      form.elements[names[0]].focus();
      return;
    }
    const item = { use_id: record.use_id, account: account, record: record, state: "pending",
                   saved_at: new Date().toISOString() };
    put(item).then(function () {
      msg.textContent = "Kept on this device as " + record.use_id + (navigator.onLine ? "; sending…" : "; it will be sent when online.");
      fresh();
      return render();
    }).then(sendAll).then(function () {
      return all();
    }).then(function (items) {
      const mine = items.filter(function (i) { return i.use_id === item.use_id; })[0];
      if (!mine) { msg.textContent = "Stored: " + item.use_id + "."; return; }
      if (mine.state === "refused") {
        // Put it back in the form with the server's messages beside the fields.
        spec.forEach(function (f) { form.elements[f.name].value = mine.record[f.name] || ""; });
        (mine.problems || []).forEach(function (p) { showError(p.column, p.message); });
        msg.textContent = "Not stored: " + mine.problem;
        return drop(mine.use_id).then(render);
      }
    });
  });
  document.getElementById("field-new").addEventListener("click", fresh);
  window.addEventListener("online", function () { setNet(); sendAll(); });
  window.addEventListener("offline", setNet);
  fresh();
  setNet();
  render().then(sendAll);
})();
