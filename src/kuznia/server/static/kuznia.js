// Kuznia's pages: draws each <canvas data-chart="KIND" data-src="API URL"> from the API's
// JSON with Chart.js (a figure's table beside it holds the same numbers and the links to
// the records). data-href="/path/{key}" makes a click on a bar open that page, with
// data-extra naming the row's key. No inline script anywhere: the CSP forbids it. A chart
// whose figures come with the page (a simulation's result, swapped in by htmx, which drops
// every script element) carries them as JSON in data-figures.
"use strict";
(function () {
  // the same colours as kuznia/palette.py (a test keeps them equal): Okabe-Ito, the
  // interval fill at 3.4:1 on white, the point black over it
  const PALETTE = { interval: "#5B8EC4", point: "#000000", effect: "#0072B2", no_effect: "#767676", failure: "#D55E00", aborted: "#000000", demand: "#D55E00" };
  const COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000"];
  const drawn = new WeakSet();
  let WORDS = null;
  // the charts' words in the page's language (body's data-messages: from the server's
  // catalogue); English is the source text
  const LANG = document.documentElement.lang || "en";
  let CAT = null;
  let OTHERS = "other groups";  // the bars past the palette, in one
  function _(text, v) {
    if (CAT === null) {
      try { CAT = JSON.parse(document.body.dataset.messages || "{}").messages || {}; } catch (e) { CAT = {}; }
    }
    return (CAT[text] || text).replace(/%\((\w+)\)s/g, function (m, k) { return v && k in v ? String(v[k]) : m; })
      .replace(/%%/g, "%");
  }

  function say(code) {  // the words for a code, from the one table the server keeps
    if (WORDS === null) {
      try { WORDS = JSON.parse(document.body.dataset.words || "{}"); } catch (e) { WORDS = {}; }
    }
    if (code === null || code === undefined) return _("(none)");
    return WORDS[code] || (/^[a-z0-9_]+$/.test(code) ? String(code).replace(/_/g, " ") : String(code));
  }
  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(url + ": " + r.status); return r.json(); });
  }
  function go(canvas, key) {
    const href = canvas.dataset.href;
    if (href && key !== null && key !== undefined) {
      window.location.href = href.replace("{key}", encodeURIComponent(key));
    }
  }
  // a figure as a person reads it: at most 4 significant digits, separators, no raw floats
  function fmt(x) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    const a = Math.abs(x);
    if (a >= 1e6 && LANG === "en") return (x / 1e6).toLocaleString("en", { maximumSignificantDigits: 3 }) + " million";
    if (a >= 1e6) return x.toLocaleString(LANG, { notation: "compact", maximumSignificantDigits: 3 });
    if (a >= 100 || Number.isInteger(x)) return Math.round(x).toLocaleString(LANG);
    return x.toLocaleString(LANG, { maximumSignificantDigits: 3 });
  }
  function pct(x) {
    return x === null || x === undefined ? "–"
      : (100 * x).toLocaleString(LANG === "en" ? "en-US" : LANG, { minimumFractionDigits: 1, maximumFractionDigits: 1, useGrouping: false }) + "%";
  }
  function axis(text, more) { return Object.assign({ title: { display: true, text: text }, ticks: { callback: function (v) { return fmt(v); } } }, more || {}); }
  function category(text) { return { type: "category", title: { display: true, text: text } }; }
  function month(m) {  // 2025-03 as Mar 2025
    const d = new Date(m + "-01T00:00:00Z");
    return isNaN(d) ? m : d.toLocaleString(LANG, { month: "short", year: "numeric", timeZone: "UTC" });
  }
  function names(canvas) {
    try { return JSON.parse(canvas.dataset.names || "{}"); } catch (e) { return {}; }
  }
  // the legend shows only the datasets that carry a label of their own (a band's upper edge
  // is part of the band, not a mark of its own)
  const legend = { position: "bottom", labels: { usePointStyle: true, filter: function (item, data) { return !data.datasets[item.datasetIndex].hideInLegend; } } };
  function tip(fn) { return { callbacks: { label: fn } }; }

  const kinds = {
    // cost per effect: the 90% interval as a floating bar, the point as a dot; cheapest
    // first; data-scale="log" when the figures span orders of magnitude
    cpe: function (canvas, data) {
      const key = canvas.dataset.extra || data.by[data.by.length - 1] + "_id";
      const named = names(canvas);
      const rows = data.rows.filter(function (r) { return r.cost_per_effect !== null; })
        .sort(function (a, b) { return a.cost_per_effect - b.cost_per_effect; });
      if (!rows.length) return null;
      const labels = rows.map(function (r) { const k = r[key]; return k === null ? "(none)" : (named[k] ? named[k] + " (" + k + ")" : k); });
      const log = canvas.dataset.scale === "log";
      canvas.closest(".canvas-box").style.height = Math.max(300, Math.min(480, 200 + 6 * rows.length)) + "px";
      return {
        data: { labels: labels, datasets: [
          { type: "bar", label: _("%(level)s%% interval", { level: 90 }), data: rows.map(function (r) { return [r.cost_per_effect_low, r.cost_per_effect_high === null ? r.cost_per_effect_low : r.cost_per_effect_high]; }), backgroundColor: PALETTE.interval, borderColor: PALETTE.interval, pointStyle: "rect" },
          { type: "scatter", label: _("cost per effect"), data: rows.map(function (r, i) { return { x: labels[i], y: r.cost_per_effect }; }), backgroundColor: PALETTE.point, borderColor: "#fff", borderWidth: 1.5, pointRadius: 5, pointStyle: "circle", order: -1 }
        ] },
        options: { scales: { x: category(key === "producer_id" ? _("producer") : key === "product_id" ? _("product") : key.replace(/_id$/, "")), y: axis(log ? _("%(currency)s per effect (log scale)", { currency: data.currency }) : _("%(currency)s per effect", { currency: data.currency }), log ? { type: "logarithmic" } : { beginAtZero: true }) },
                   plugins: { tooltip: tip(function (c) { const r = rows[c.dataIndex]; return _("cost per effect %(value)s %(currency)s (90%%: %(low)s – %(high)s)", { value: fmt(r.cost_per_effect), currency: data.currency, low: fmt(r.cost_per_effect_low), high: fmt(r.cost_per_effect_high) }); }) },
                   onClick: function (ev, els) { if (els.length) go(canvas, rows[els[0].index][key]); } }
      };
    },
    trend: function (canvas, data) {
      const rows = data.rows;
      if (!rows.length) return null;
      const labels = rows.map(function (r) { return month(r.month); });
      return {
        data: { labels: labels, datasets: [
          { type: "line", label: "90% high", hideInLegend: true, data: rows.map(function (r) { return r.cost_per_effect_high; }), borderColor: PALETTE.interval, pointRadius: 0, fill: false },
          { type: "line", label: _("%(level)s%% interval", { level: 90 }), data: rows.map(function (r) { return r.cost_per_effect_low; }), borderColor: PALETTE.interval, backgroundColor: PALETTE.interval, pointRadius: 0, fill: "-1", pointStyle: "rect" },
          { type: "line", label: _("cost per effect"), data: rows.map(function (r) { return r.cost_per_effect; }), borderColor: PALETTE.point, backgroundColor: PALETTE.point, pointRadius: 3, borderWidth: 2, order: -1 }
        ] },
        options: { scales: { x: category(_("month")), y: axis(_("cost per effect (%(currency)s)", { currency: data.currency }), { beginAtZero: true }) },
                   plugins: { tooltip: tip(function (c) { const r = rows[c.dataIndex]; return _("cost per effect %(value)s %(currency)s (90%%: %(low)s – %(high)s)", { value: fmt(r.cost_per_effect), currency: data.currency, low: fmt(r.cost_per_effect_low), high: fmt(r.cost_per_effect_high) }); }) },
                   onClick: function (ev, els) { if (els.length) go(canvas, rows[els[0].index].month); } }
      };
    },
    outcomes: function (canvas, data) {
      const named = names(canvas);
      const rows = data.rows;
      if (!rows.length) return null;
      const parts = ["effect", "no_effect", "failure", "aborted"];
      return {
        data: { labels: rows.map(function (r) { return named[r.product_id] ? named[r.product_id] + " (" + r.product_id + ")" : r.product_id; }), datasets: parts.map(function (p) {
          return { type: "bar", label: say(p), data: rows.map(function (r) { return r["n_" + p]; }), backgroundColor: PALETTE[p], borderColor: "#fff", borderWidth: 1, pointStyle: "rect" };
        }) },
        options: { scales: { x: Object.assign(category(_("product")), { stacked: true }), y: axis(_("uses"), { stacked: true }) }, onClick: function (ev, els) { if (els.length) go(canvas, rows[els[0].index].product_id); } }
      };
    },
    // failures per mode, most first, with the cumulative share; grouped (by version or a
    // condition's value), each mode's bar is stacked by group, as the table beside it
    pareto: function (canvas, data) {
      const by = data.by || [];
      function group(r) {
        return by.map(function (b) {
          if (b === "version") return _("version %(version)s", { version: r.version });
          const key = b.slice(b.indexOf(":") + 1);
          return key + " " + r.conditions[key];
        }).join(", ");
      }
      const sums = {}, parts = {}, groupTotals = {};
      data.rows.forEach(function (r) {
        sums[r.failure_mode] = (sums[r.failure_mode] || 0) + r.failures;
        const g = group(r);
        parts[g] = parts[g] || {};
        parts[g][r.failure_mode] = (parts[g][r.failure_mode] || 0) + r.failures;
        groupTotals[g] = (groupTotals[g] || 0) + r.failures;
      });
      const modes = Object.keys(sums).sort(function (a, b) { return sums[b] - sums[a]; }).slice(0, 15);
      if (!modes.length) return null;
      const total = Object.values(sums).reduce(function (a, b) { return a + b; }, 0) || 1;
      let run = 0;
      let groups = Object.keys(groupTotals).sort(function (a, b) { return groupTotals[b] - groupTotals[a]; });
      if (groups.length > COLORS.length) {  // the largest groups, the rest as one
        const rest = groups.slice(COLORS.length - 1);
        OTHERS = _("other groups");
        parts[OTHERS] = {};
        rest.forEach(function (g) { modes.forEach(function (m) { parts[OTHERS][m] = (parts[OTHERS][m] || 0) + (parts[g][m] || 0); }); });
        groups = groups.slice(0, COLORS.length - 1).concat([OTHERS]);
      }
      const bars = by.length
        ? groups.map(function (g, i) { return { type: "bar", label: g, data: modes.map(function (m) { return parts[g][m] || 0; }), backgroundColor: COLORS[(i + 1) % COLORS.length], yAxisID: "y", stack: "failures", pointStyle: "rect" }; })
        : [{ type: "bar", label: _("failures"), data: modes.map(function (m) { return sums[m]; }), backgroundColor: PALETTE.failure, yAxisID: "y", pointStyle: "rect" }];
      return {
        data: { labels: modes.map(say), datasets: bars.concat([
          { type: "line", label: _("cumulative share of failures (%%)"), data: modes.map(function (m) { run += sums[m]; return 100 * run / total; }), borderColor: COLORS[0], backgroundColor: COLORS[0], yAxisID: "y1", order: -1, borderWidth: 2 }
        ]) },
        options: { scales: { x: Object.assign(category(_("failure mode")), { stacked: by.length > 0 }), y: axis(_("failures"), { beginAtZero: true, stacked: by.length > 0 }), y1: axis(_("cumulative share (%%)"), { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false } }) } }
      };
    },
    growth: function (canvas, data) {
      const v = data.versions || [];
      if (!v.length) return null;
      const curve = (data.fit && data.fit.curve) || [];
      const p100 = function (x) { return x === null || x === undefined ? null : 100 * x; };
      return {
        data: { datasets: [
          { type: "scatter", label: "reliability of a version", data: v.map(function (r) { return { x: r.cumulative_uses, y: p100(r.reliability) }; }), backgroundColor: PALETTE.point, borderColor: "#fff", borderWidth: 1.5, pointRadius: 5, order: -2 },
          { type: "bar", label: _("%(level)s%% interval", { level: 90 }), data: v.map(function (r) { return { x: r.cumulative_uses, y: [p100(r.reliability_low), p100(r.reliability_high)] }; }), backgroundColor: PALETTE.interval, barThickness: 8, pointStyle: "rect" },
          { type: "line", label: _("growth fit"), data: curve.map(function (p) { return { x: p.uses, y: p100(p.reliability) }; }), borderColor: COLORS[2], backgroundColor: COLORS[2], pointRadius: 0, borderWidth: 2, order: -1 }
        ] },
        options: { scales: { x: axis(_("uses so far"), { type: "linear" }), y: axis(_("reliability (%% of uses without failure)")) },
                   plugins: { tooltip: tip(function (c) { return c.dataset.label + ": " + fmt(c.parsed.y) + "%"; }) } }
      };
    },
    fan: function (canvas, products) {
      const box = canvas.closest("figure");
      let select = box.querySelector("select");
      if (!select) {
        const label = document.createElement("label");
        label.textContent = _("Product") + " ";
        select = document.createElement("select");
        products.forEach(function (p) { const o = document.createElement("option"); o.textContent = p.product_id; select.appendChild(o); });
        label.appendChild(select);
        box.appendChild(label);
      }
      function config(p) {
        const m = p.by_month;
        return { data: { labels: m.map(function (x) { return x.month; }), datasets: [
          { type: "line", label: "90%", hideInLegend: true, data: m.map(function (x) { return x.p90; }), borderColor: PALETTE.interval, pointRadius: 0, fill: false },
          { type: "line", label: _("%(low)s%% to %(high)s%% of runs", { low: 10, high: 90 }), data: m.map(function (x) { return x.p10; }), borderColor: PALETTE.interval, backgroundColor: PALETTE.interval, pointRadius: 0, fill: "-1", pointStyle: "rect" },
          { type: "line", label: _("median"), data: m.map(function (x) { return x.p50; }), borderColor: PALETTE.point, backgroundColor: PALETTE.point, order: -1 },
          { type: "line", label: _("demand"), data: m.map(function () { return p.monthly_demand; }), borderColor: PALETTE.demand, backgroundColor: PALETTE.demand, borderDash: [4, 4], pointRadius: 0 }
        ] }, options: { scales: { x: category(_("month")), y: axis(_("units delivered"), { beginAtZero: true }) } } };
      }
      select.addEventListener("change", function () {
        const chart = Chart.getChart(canvas);
        const p = products[select.selectedIndex];
        if (chart) { chart.data = config(p).data; chart.update(); }
      });
      return config(products[0]);
    }
  };

  function draw(canvas) {
    if (drawn.has(canvas) || !window.Chart) return;
    drawn.add(canvas);
    const kind = kinds[canvas.dataset.chart];
    const source = canvas.dataset.figures
      ? Promise.resolve().then(function () { return JSON.parse(canvas.dataset.figures); })
      : get(canvas.dataset.src);
    source.then(function (data) {
      const cfg = kind(canvas, data);
      if (cfg === null) {  // nothing to draw: say so, not empty axes
        const p = document.createElement("p");
        p.className = "empty";
        p.textContent = canvas.dataset.empty || _("No uses in this period.");
        canvas.closest(".canvas-box").replaceWith(p);
        canvas.dataset.drawn = "true";
        canvas.dataset.nothing = "true";
        return;
      }
      cfg.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, cfg.options);
      cfg.options.plugins = Object.assign({ legend: legend }, cfg.options.plugins || {});
      new Chart(canvas, cfg);
      canvas.dataset.drawn = "true";
      canvas.dataset.drawnAt = String(performance.now());  // ms since navigation began
    }).catch(function (e) {
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = _("The chart could not be drawn (%(error)s); the table holds its figures.", { error: e.message });
      canvas.closest("figure").appendChild(p);
      canvas.dataset.drawn = "error";
    });
  }
  function drawAll(root) { (root || document).querySelectorAll("canvas[data-chart]").forEach(draw); }
  // a table wider than its box says so (the page itself never scrolls sideways)
  function hintScroll(root) {
    (root || document).querySelectorAll(".scroll").forEach(function (box) {
      box.classList.toggle("overflows", box.scrollWidth > box.clientWidth + 2);
    });
  }
  window.addEventListener("resize", function () { hintScroll(); });
  document.addEventListener("DOMContentLoaded", function () { hintScroll(); });
  document.addEventListener("htmx:afterSettle", function (ev) { hintScroll(ev.target); });
  document.addEventListener("DOMContentLoaded", function () { drawAll(); });
  document.addEventListener("htmx:afterSettle", function (ev) { drawAll(ev.target); });
})();
