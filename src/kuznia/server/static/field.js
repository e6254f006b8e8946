// The field form. Every record goes to IndexedDB first, then to POST /api/v1/uses
// (idempotent on its id, made here with crypto.randomUUID) whenever the server answers;
// a record leaves the list only as "stored" (201/200). 202 means received and waiting at
// the server; a 4xx with problems is kept on the record, with its words, to be corrected.
// Sending is tried again with exponential backoff and jitter, on `online`, `focus`,
// `visibilitychange` and on a timer; navigator.onLine is never taken as the truth: the
// state shown is that of the last contact with the server. The pick-lists come from
// GET /api/v1/field/catalogue, kept in localStorage with its ETag, so they work offline.
// The service worker (sw.js) keeps this page and its files so that it opens offline too.
// Everything shown is set as text (never as HTML).
"use strict";
(function () {
  const form = document.getElementById("field-form");
  if (!form) return;
  const account = form.dataset.account;
  const words = JSON.parse(document.getElementById("field-words").textContent);
  const labels = words.labels;
  // the form's messages in the page's language (words.messages, words.plurals: from the
  // server's catalogue, kept with the page for offline use); English is the source text
  const CAT = words.messages || {}, PLURALS = words.plurals || {};
  const RULES = new Intl.PluralRules(document.documentElement.lang || "en");
  const fill = function (text, v) {
    return text.replace(/%\((\w+)\)s/g, function (m, k) { return v && k in v ? String(v[k]) : m; });
  };
  const _ = function (text, v) { return fill(CAT[text] || text, v); };
  const N_ = function (text) { return text; };  // a message said later (by `say` below)
  const ngettext = function (one, many, n, v) {
    const forms = PLURALS[one] || {};
    const form = forms[RULES.select(n)] || forms.other || (n === 1 ? one : many);
    return fill(form, Object.assign({ num: n }, v || {}));
  };
  const $ = function (id) { return document.getElementById(id); };
  const syncState = $("sync-state"), list = $("pending"), sentList = $("sent");
  const msg = $("form-msg"), catState = $("catalogue-state");
  const product = $("f-product_id"), version = $("f-version"), lot = $("f-lot");
  const lots = $("lots"), mode = $("f-failure_mode"), other = $("f-failure_other");
  const date = $("f-used_on");
  const BASE_DELAY = 5000, MAX_DELAY = 5 * 60 * 1000, TICK = 30000;
  const OTHER = "\u0000other";
  let catalogue = { products: [] };
  let sending = false, attempt = 0, timer = null, nextTry = null, replacing = null;

  // --- the device's own storage ------------------------------------------------------
  const key = function (name) { return "kuznia-field:" + account + ":" + name; };
  function load(name, fallback) {
    try { const v = localStorage.getItem(key(name)); return v ? JSON.parse(v) : fallback; }
    catch (e) { return fallback; }
  }
  function keep(name, value) {
    try { localStorage.setItem(key(name), JSON.stringify(value)); } catch (e) { /* full */ }
  }

  function db() {
    return new Promise(function (resolve, reject) {
      const req = indexedDB.open("kuznia-field", 1);
      req.onupgradeneeded = function () { req.result.createObjectStore("records", { keyPath: "use_id" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function tx(mode_, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        const t = d.transaction("records", mode_);
        const out = fn(t.objectStore("records"));
        t.oncomplete = function () { resolve(out && out.result); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function all() {
    return tx("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return items.filter(function (i) { return i.account === account; }).map(function (i) {
        if (i.state === "pending") i.state = "waiting";  // kept by the earlier form
        if (i.state === "refused") i.state = "rejected";
        return i;
      });
    });
  }
  const put = function (item) { return tx("readwrite", function (s) { s.put(item); }); };
  const drop = function (id) { return tx("readwrite", function (s) { s.delete(id); }); };

  // --- the device's clock ----------------------------------------------------------------
  const two = function (n) { return (n < 10 ? "0" : "") + n; };
  function dayOf(d) { return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()); }
  function timeOf(iso) { const d = new Date(iso); return two(d.getHours()) + ":" + two(d.getMinutes()); }
  function today() { return dayOf(new Date()); }
  function freshDate() {
    if (date.dataset.auto !== "0") { date.value = today(); date.dataset.auto = "1"; }
  }
  date.addEventListener("input", function () { date.dataset.auto = date.value === today() ? "1" : "0"; });

  // --- night colours -------------------------------------------------------------------
  const toggle = $("theme-toggle");
  const darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function theme() {
    let chosen = null;
    try { chosen = localStorage.getItem("kuznia-theme"); } catch (e) { /* none */ }
    const dark = chosen ? chosen === "dark" : !!(darkQuery && darkQuery.matches);
    document.documentElement.dataset.theme = dark ? "dark" : "light";
    toggle.setAttribute("aria-pressed", dark ? "true" : "false");
    return dark;
  }
  toggle.addEventListener("click", function () {
    const dark = document.documentElement.dataset.theme !== "dark";
    try { localStorage.setItem("kuznia-theme", dark ? "dark" : "light"); } catch (e) { /* none */ }
    theme();
  });
  if (darkQuery && darkQuery.addEventListener) darkQuery.addEventListener("change", theme);
  theme();

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
  }

  // --- the pick-lists --------------------------------------------------------------------
  function option(select, value, text) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    select.appendChild(o);
    return o;
  }
  function reset(select, first) {
    select.textContent = "";
    option(select, "", first);
  }
  function modeWords(m) { return m.description || m.id.replace(/_/g, " "); }
  function productOf(id) {
    return catalogue.products.filter(function (p) { return p.id === id; })[0] || null;
  }
  function fillProducts() {
    const chosen = product.value || load("kept", {}).product_id || "";
    reset(product, catalogue.products.length ? _("Choose a product") : _("No products yet"));
    catalogue.products.forEach(function (p) { option(product, p.id, p.name + " (" + p.id + ")"); });
    if (productOf(chosen)) product.value = chosen;
    fillProduct();
  }
  function fillProduct() {
    const p = productOf(product.value);
    const v = version.value || (load("kept", {}).product_id === product.value ? load("kept", {}).version : "");
    reset(version, _("Not known"));
    lots.textContent = "";
    const m = mode.value;
    reset(mode, _("Choose what failed"));
    if (p) {
      p.versions.forEach(function (x) { option(version, x.id, x.id + " (since " + x.introduced_on + ")"); });
      p.lots.forEach(function (x) { option(lots, x.id, "delivered " + x.delivered_on); });
      p.failure_modes.forEach(function (x) { option(mode, x.id, modeWords(x)); });
      if (p.versions.some(function (x) { return x.id === v; })) version.value = v || "";
      if (p.failure_modes.some(function (x) { return x.id === m; })) mode.value = m;
    }
    option(mode, OTHER, _("Something else (describe it)"));
    if (m === OTHER) mode.value = OTHER;
    skip();
  }
  function showCatalogue(stamp) {
    const n = catalogue.products.length;
    catState.textContent = stamp
      ? (stamp.slice(0, 10) === new Date().toISOString().slice(0, 10)
        ? ngettext("Pick-lists: %(num)s product, kept on this device, last fetched today at %(time)s.",
                   "Pick-lists: %(num)s products, kept on this device, last fetched today at %(time)s.", n, { time: timeOf(stamp) })
        : ngettext("Pick-lists: %(num)s product, kept on this device, last fetched %(day)s.",
                   "Pick-lists: %(num)s products, kept on this device, last fetched %(day)s.", n, { day: stamp.slice(0, 10) }))
      : _("The pick-lists have not reached this device yet: they are fetched as soon as the server can be reached.");
  }
  function useCatalogue() {
    const kept = load("catalogue", null);
    if (kept && kept.data) catalogue = kept.data;
    fillProducts();
    showCatalogue(kept && kept.fetched_at);
  }
  function refreshCatalogue() {
    const kept = load("catalogue", null);
    const headers = kept && kept.etag ? { "If-None-Match": kept.etag } : {};
    return fetch("/api/v1/field/catalogue", { credentials: "same-origin", cache: "no-store", headers: headers })
      .then(function (r) {
        reached();
        if (r.status === 304 && kept) {
          kept.fetched_at = new Date().toISOString();
          keep("catalogue", kept);
          showCatalogue(kept.fetched_at);
          return;
        }
        if (r.status === 401) { ended(true); return; }
        if (!r.ok) return;
        return r.json().then(function (data) {
          keep("catalogue", { etag: r.headers.get("ETag"), data: data, fetched_at: new Date().toISOString() });
          useCatalogue();
        });
      }, function () { notReached(); });
  }

  // --- skip logic ---------------------------------------------------------------------------
  function outcome() {
    const o = form.querySelector("input[name=outcome]:checked");
    return o ? o.value : "";
  }
  function skip() {
    const o = outcome();
    $("box-effects").hidden = o !== "effect";
    $("box-failure_mode").hidden = o !== "failure";
    $("box-failure_other").hidden = mode.value !== OTHER;
  }
  form.addEventListener("change", function (ev) {
    if (ev.target === product) {
      version.value = "";
      const p = productOf(product.value);
      if (p && lot.value && !p.lots.some(function (x) { return x.id === lot.value; }) &&
          catalogue.products.some(function (q) { return q.lots.some(function (x) { return x.id === lot.value; }); })) {
        lot.value = "";  // another product's lot
      }
      fillProduct();
    }
    if (ev.target.name === "outcome" || ev.target === mode) skip();
    if (ev.target.name === "keep") rememberKeep();
  });

  // --- keep for the next one -------------------------------------------------------------
  function keeps() {
    const out = {};
    form.querySelectorAll("input[name=keep]").forEach(function (c) { out[c.value] = c.checked; });
    return out;
  }
  function rememberKeep() { keep("keep", keeps()); }
  (function restoreKeep() {
    const k = load("keep", null);
    if (!k) return;
    form.querySelectorAll("input[name=keep]").forEach(function (c) {
      if (c.value in k) c.checked = !!k[c.value];
    });
  })();
  function rememberKept(record) {
    const k = keeps();
    keep("kept", { operator: k.operator ? record.operator : null,
                   product_id: k.product_id ? record.product_id : null,
                   version: k.product_id ? record.version : null,
                   lot: k.lot ? record.lot : null });
  }
  function restoreKept() {
    const kept = load("kept", {});
    const k = keeps();
    if (k.operator && kept.operator) form.elements.operator.value = kept.operator;
    if (k.lot && kept.lot) lot.value = kept.lot;
  }

  function clearForNext() {
    const k = keeps();
    form.querySelectorAll("input[name=outcome]").forEach(function (r) { r.checked = false; });
    form.elements.effects.value = "";
    mode.value = "";
    other.value = "";
    form.elements.units_used.value = "1";
    form.elements.notes.value = "";
    form.elements.conditions.value = "";
    if (!k.lot) lot.value = "";
    if (!k.operator) form.elements.operator.value = "";
    if (!k.product_id) { product.value = ""; version.value = ""; fillProduct(); }
    date.dataset.auto = "1";
    freshDate();
    replacing = null;
    Object.keys(labels).forEach(function (n) { showError(n, ""); });
    skip();
  }

  // --- checks on the device: the import's own rules and words ----------------------------
  function showError(name, text) {
    const el = $("err-" + name);
    const input = name === "outcome" ? $("f-outcome") : form.elements[name];
    if (el) el.textContent = text;
    if (input && input.setAttribute) input.setAttribute("aria-invalid", text ? "true" : "false");
  }
  const UNSEEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/;
  function check(record) {
    const problems = {};
    const say = function (name, text, v) {
      if (!problems[name]) problems[name] = _(text, Object.assign({ field: labels[name] }, v || {}));
    };
    ["used_on", "product_id", "outcome"].forEach(function (n) { if (!record[n]) say(n, N_("%(field)s is required.")); });
    ["operator", "product_id", "version", "lot"].forEach(function (n) {
      const v = record[n];
      if (!v) return;
      if (UNSEEN.test(v)) say(n, words.unseen_in_id);
      else if (v === "." || v === "..") say(n, words.dots_id);
      else if (v.length > words.max_id) say(n, N_("%(field)s is longer than %(max)s characters."), { max: words.max_id });
    });
    ["units_used", "effects"].forEach(function (n) {
      const v = record[n];
      if (v === null) return;
      if (!/^[0-9]+$/.test(v)) say(n, N_("%(field)s is not a whole number."));
      else if (Number(v) > words.max_int) say(n, N_("%(field)s is out of range (at most %(max)s)."), { max: words.max_int.toLocaleString(document.documentElement.lang || "en") });
    });
    if (record.units_used !== null && /^[0-9]+$/.test(record.units_used) && Number(record.units_used) < 1) {
      say("units_used", N_("%(field)s must be at least 1."));
    }
    if (record.used_on) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(record.used_on)) say("used_on", N_("%(field)s is not an ISO date (YYYY-MM-DD)."));
      else if (record.used_on > today()) say("used_on", N_("%(field)s is after today on this device's clock (%(today)s)."), { today: today() });
    }
    if (record.outcome === "effect") {
      if (record.effects === null) say("effects", N_("%(field)s is required."));
      else if (record.effects === "0") say("effects", N_("%(field)s must be at least 1 when the outcome is effect."));
    }
    if (record.outcome === "failure" && !record.failure_mode) {
      say("failure_mode", N_("%(field)s is required when the outcome is failure."));
    }
    const p = productOf(record.product_id);
    if (record.lot && p) {
      const owner = catalogue.products.filter(function (q) {
        return q.lots.some(function (x) { return x.id === record.lot; });
      })[0];
      if (owner && owner.id !== p.id) say("lot", N_("%(field)s was delivered for another product (%(lot)s is %(owner)s)."), { lot: record.lot, owner: owner.id });
    }
    return problems;
  }

  function newId() {
    return (self.crypto && crypto.randomUUID) ? crypto.randomUUID()
      : "F-" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function read() {
    const value = function (n) { const v = (form.elements[n].value || "").trim(); return v === "" ? null : v; };
    const o = outcome() || null;
    const failure = mode.value === OTHER ? value("failure_other") : value("failure_mode");
    return {
      use_id: null, used_on: value("used_on"), operator: value("operator"),
      product_id: value("product_id"), version: value("version"), producer_id: null,
      lot: value("lot"), units_used: value("units_used"),
      effects: o === "effect" ? value("effects") : (o ? "0" : null),
      outcome: o, failure_mode: o === "failure" ? failure : null,
      conditions: value("conditions"), notes: value("notes")
    };
  }

  // --- records in words -------------------------------------------------------------------
  function outcomeWords(r) {
    const word = (words.outcomes[r.outcome] || r.outcome || "").toLowerCase();
    if (r.outcome === "failure" && r.failure_mode) {
      const p = productOf(r.product_id);
      const m = p && p.failure_modes.filter(function (x) { return x.id === r.failure_mode; })[0];
      return word + " (" + (m ? r.failure_mode.replace(/_/g, " ") : r.failure_mode) + ")";
    }
    if (r.outcome === "effect") return word + " (" + r.effects + ")";
    return word;
  }
  function named(item) {
    const r = item.record;
    const day = item.saved_at.slice(0, 10) === r.used_on || dayOf(new Date(item.saved_at)) === r.used_on ? "" : r.used_on + ", ";
    return r.product_id + " · " + day + timeOf(item.saved_at) + " · " + outcomeWords(r);
  }
  function problemsText(item) {
    return (item.problems || []).map(function (p) {
      return (labels[p.column] || labels.use_id) + ": " + p.message;
    }).join("; ") || item.problem || _("refused");
  }
  function stateWords(item) {
    if (item.state === "rejected") return _("refused by the server: %(problems)s", { problems: problemsText(item) });
    if (item.state === "received") return _("received by the server, waiting to be stored");
    if (item.state === "sending") return _("sending…");
    return _("waiting to be sent");
  }
  function button(text, fn) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = text;
    b.addEventListener("click", fn);
    return b;
  }
  function none(ul, text) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = text;
    ul.appendChild(li);
  }
  let items = [];
  function render() {
    return all().then(function (found) {
      const day = today();
      // what was stored on an earlier day has been shown; it leaves the device now
      const old = found.filter(function (i) {
        return (i.state === "stored" || i.state === "received" && !i.status_url) &&
          dayOf(new Date(i.sent_at)) !== day;
      });
      items = found.filter(function (i) { return old.indexOf(i) < 0; });
      items.sort(function (a, b) { return a.saved_at < b.saved_at ? -1 : 1; });
      list.textContent = "";
      sentList.textContent = "";
      const here = items.filter(function (i) { return i.state !== "stored"; });
      const sent = items.filter(function (i) { return i.state === "stored"; });
      if (!here.length) none(list, _("Nothing waiting."));
      here.forEach(function (i) {
        const li = document.createElement("li");
        li.className = "record-item " + i.state;
        li.dataset.state = i.state;
        if (i.asks) li.dataset.asks = i.asks;
        const what = document.createElement("span");
        what.className = "what";
        what.textContent = named(i);
        const state = document.createElement("span");
        state.className = "state";
        state.textContent = stateWords(i);
        li.appendChild(what);
        li.appendChild(state);
        if (i.state === "rejected") {
          const tools = document.createElement("span");
          tools.className = "tools";
          tools.appendChild(button(_("Correct it"), function () { edit(i); }));
          tools.appendChild(button(_("Discard"), function () { drop(i.use_id).then(render); }));
          li.appendChild(tools);
        }
        list.appendChild(li);
      });
      if (!sent.length) none(sentList, _("Nothing sent yet today."));
      sent.slice().reverse().forEach(function (i) {
        const li = document.createElement("li");
        li.className = "record-item stored";
        li.textContent = _("%(record)s · stored at %(time)s", { record: named(i), time: timeOf(i.sent_at) });
        sentList.appendChild(li);
      });
      showSync();
      return Promise.all(old.map(function (i) { return drop(i.use_id); }));
    });
  }

  function edit(item) {
    const r = item.record;
    clearForNext();
    product.value = r.product_id || "";
    fillProduct();
    version.value = r.version || "";
    ["operator", "lot", "units_used", "conditions", "notes"].forEach(function (n) { form.elements[n].value = r[n] || ""; });
    date.value = r.used_on || "";
    date.dataset.auto = "0";
    const o = $("o-" + r.outcome);
    if (o) o.checked = true;
    form.elements.effects.value = r.outcome === "effect" ? r.effects : "";
    if (r.failure_mode) {
      const known = Array.prototype.some.call(mode.options, function (x) { return x.value === r.failure_mode; });
      mode.value = known ? r.failure_mode : OTHER;
      if (!known) other.value = r.failure_mode;
    }
    skip();
    (item.problems || []).forEach(function (p) { showError(p.column, problemsText({ problems: [p] })); });
    replacing = item.use_id;
    msg.textContent = _("Correct the record and save it again: %(problems)s", { problems: problemsText(item) });
    product.focus();
  }

  // --- the state of the last contact with the server --------------------------------------
  function contact() { return load("contact", { ok_at: null, failed_at: null }); }
  function reached() {
    keep("contact", { ok_at: new Date().toISOString(), failed_at: null });
    $("session-ended").hidden = true;
  }
  function notReached() {
    const c = contact();
    c.failed_at = new Date().toISOString();
    keep("contact", c);
  }
  function ended(yes) { $("session-ended").hidden = !yes; }
  function showSync() {
    const waiting = items.filter(function (i) { return i.state === "waiting" || i.state === "sending"; }).length;
    const rejected = items.filter(function (i) { return i.state === "rejected"; }).length;
    const c = contact();
    const parts = [waiting ? ngettext("%(num)s waiting", "%(num)s waiting", waiting) : _("Nothing waiting")];
    if (rejected) parts.push(ngettext("%(num)s to correct", "%(num)s to correct", rejected));
    if (sending) parts.push(_("sending…"));
    else if (c.failed_at) parts.push(c.ok_at ? _("server not reached since %(time)s", { time: timeOf(c.ok_at) }) : _("server not reached yet"));
    else if (c.ok_at) parts.push(_("last contact with the server %(time)s", { time: timeOf(c.ok_at) }));
    if (!sending && waiting && nextTry && c.failed_at) parts.push(_("next try %(time)s", { time: timeOf(new Date(nextTry).toISOString()) }));
    if (!navigator.onLine) parts.push(_("this device says it has no connection"));
    syncState.textContent = parts.join(" · ");
    syncState.className = "sync-state" + (c.failed_at ? " not-reached" : "");
    syncState.dataset.sending = sending ? "yes" : "no";
  }

  // --- sending ----------------------------------------------------------------------------
  function schedule() {
    clearTimeout(timer);
    timer = null;
    nextTry = null;
    const work = items.some(function (i) { return i.state === "waiting" || (i.state === "received" && i.status_url); });
    if (!work) return;
    const cap = Math.min(MAX_DELAY, BASE_DELAY * Math.pow(2, attempt));
    const delay = cap / 2 + Math.random() * cap / 2;  // "equal jitter"
    nextTry = Date.now() + delay;
    timer = setTimeout(function () { sendAll(); }, delay);
  }

  function post(item, token) {
    return fetch("/api/v1/uses", {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify(item.record)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.status === 200 || r.status === 201) {
          item.state = "stored";
          item.sent_at = new Date().toISOString();
          return put(item);
        }
        if (r.status === 202) {  // received; stored when the server's import lets go
          item.state = "received";
          item.sent_at = new Date().toISOString();
          item.status_url = body.href || body.status_url || r.headers.get("Location") || null;
          return put(item);
        }
        if (r.status === 401) { ended(true); throw new Error("stop"); }
        if (r.status === 429 || r.status >= 500 || r.status === 403 && /CSRF/.test(body.detail || "")) {
          throw new Error("later");
        }
        item.state = "rejected";
        item.problem = body.detail || _("the server answered %(status)s", { status: r.status });
        item.problems = body.problems || [];
        return put(item);
      });
    });
  }
  function poll(item) {  // a record received with a status to follow
    return fetch(item.status_url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      item.asks = (item.asks || 0) + 1;
      if (!r.ok) return put(item);
      return r.json().then(function (body) {
        const status = body.status || "";
        if (["stored", "done", "added", "unchanged"].indexOf(status) >= 0) {
          item.state = "stored";
          item.sent_at = new Date().toISOString();
          return put(item);
        }
        if (body.problems || ["rejected", "failed", "error"].indexOf(status) >= 0) {
          item.state = "rejected";
          item.problem = (body.error && body.error.detail) || body.detail || status;
          item.problems = body.problems || (body.error && body.error.problems) || [];
        }
        return put(item);
      });
    });
  }

  function sendAll() {
    if (sending) return Promise.resolve();
    sending = true;
    clearTimeout(timer);
    showSync();
    return all().then(function (found) {
      items = found;
      const waiting = found.filter(function (i) { return i.state === "waiting"; });
      const following = found.filter(function (i) { return i.state === "received" && i.status_url; });
      return fetch("/api/v1/me", { credentials: "same-origin", cache: "no-store" }).then(function (r) {
        reached();
        if (r.status === 401) { ended(true); throw new Error("stop"); }
        if (!r.ok) throw new Error("later");
        return r.json();
      }, function () { throw new Error("unreached"); }).then(function (me) {
        return waiting.reduce(function (chain, item) {
          return chain.then(function () { return post(item, me.csrf_token); });
        }, Promise.resolve()).then(function () {
          return Promise.all(following.map(poll));
        });
      });
    }).then(function () {
      attempt = 0;
      // within the send, so "not sending" means nothing is in flight; a bad answer is no stall
      return refreshCatalogue().catch(function () { return null; });
    }, function (e) {
      if (e && e.message === "stop") return;
      if (e && e.message === "later") reached(); else notReached();
      attempt = Math.min(attempt + 1, 10);
    }).then(function () {
      sending = false;
      return render();
    }).then(function () {
      if ($("session-ended").hidden) schedule();  // an ended session waits for a login
      showSync();
    });
  }
  function sendNow() { attempt = 0; return sendAll(); }

  // --- saving -------------------------------------------------------------------------------
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    freshDate();  // a form left open past midnight records the new day
    const record = read();
    Object.keys(labels).forEach(function (n) { showError(n, ""); });
    const problems = check(record);
    const names = Object.keys(problems);
    if (names.length) {
      names.forEach(function (n) { showError(n, problems[n]); });
      msg.textContent = ngettext("Not saved: %(num)s field to correct.", "Not saved: %(num)s fields to correct.", names.length);
      const first = names[0] === "outcome" ? $("o-effect") : form.elements[names[0]];
      if (first && first.focus) first.focus();
      return;
    }
    record.use_id = newId();
    const item = { use_id: record.use_id, account: account, record: record, state: "waiting",
                   saved_at: new Date().toISOString() };
    const old = replacing;
    rememberKept(record);
    put(item).then(function () {
      return old ? drop(old) : null;
    }).then(function () {
      msg.textContent = _("Kept on this device: %(record)s.", { record: named(item) });
      clearForNext();
      return render();
    }).then(sendNow);
  });
  $("field-new").addEventListener("click", function () { clearForNext(); msg.textContent = ""; });
  $("send-now").addEventListener("click", sendNow);

  // --- a lot scanned from its label (where the browser can read barcodes) -------------------
  if ("BarcodeDetector" in window) {
    const scan = $("scan-lot"), file = $("scan-file");
    scan.hidden = false;
    scan.addEventListener("click", function () { file.click(); });
    file.addEventListener("change", function () {
      const picture = file.files && file.files[0];
      if (!picture) return;
      createImageBitmap(picture).then(function (bitmap) {
        return new window.BarcodeDetector().detect(bitmap);
      }).then(function (codes) {
        if (!codes.length) { showError("lot", _("No barcode was read from the picture; type the lot instead.")); return; }
        lot.value = codes[0].rawValue.trim();
        showError("lot", "");
      }).catch(function () {
        showError("lot", _("The picture could not be read; type the lot instead."));
      }).then(function () { file.value = ""; });
    });
  }

  // --- when to try again ----------------------------------------------------------------------
  window.addEventListener("online", sendNow);
  window.addEventListener("offline", showSync);
  window.addEventListener("focus", function () { freshDate(); sendNow(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { freshDate(); sendNow(); }
  });
  setInterval(function () { freshDate(); showSync(); }, TICK);

  date.dataset.auto = "1";
  freshDate();
  restoreKept();
  useCatalogue();
  refreshCatalogue();
  render().then(sendAll);
})();
