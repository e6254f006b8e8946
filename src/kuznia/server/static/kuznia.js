// Kuznia's pages: draws each <canvas data-chart="KIND" data-src="API URL"> from the API's
// JSON with Chart.js (a figure's table beside it holds the same numbers and the links to
// the records). data-href="/path/{key}" makes a click on a bar open that page, with
// data-extra naming the row's key. No inline script anywhere: the CSP forbids it. A chart
// whose figures come with the page (a simulation's result, swapped in by htmx, which drops
// every script element) carries them as JSON in data-figures.
"use strict";
(function () {
  const COLORS = ["#1f5fa8", "#b34700", "#2e7d32", "#6a1b9a", "#8d6e00", "#00838f", "#ad1457", "#4e342e"];
  const drawn = new WeakSet();

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
  function fmt(x) { return x === null || x === undefined ? "–" : Math.round(x).toLocaleString("en"); }

  const kinds = {
    // cost per effect: the 90% interval as a floating bar, the point as a dot
    cpe: function (canvas, data) {
      const key = canvas.dataset.extra || data.by[data.by.length - 1] + "_id";
      const rows = data.rows.filter(function (r) { return r.cost_per_effect !== null; });
      const labels = rows.map(function (r) { return r[key] === null ? "(none)" : r[key]; });
      return {
        data: { labels: labels, datasets: [
          { type: "bar", label: "90% interval", data: rows.map(function (r) { return [r.cost_per_effect_low, r.cost_per_effect_high]; }), backgroundColor: "rgba(31,95,168,0.35)", borderColor: COLORS[0], borderWidth: 1 },
          { type: "scatter", label: "cost per effect", data: rows.map(function (r, i) { return { x: labels[i], y: r.cost_per_effect }; }), backgroundColor: "#111", pointRadius: 4 }
        ] },
        options: { scales: { x: { type: "category" }, y: { beginAtZero: true, title: { display: true, text: "cost per effect (" + data.currency + ")" } } },
                   onClick: function (ev, els) { if (els.length) go(canvas, rows[els[0].index][key]); } }
      };
    },
    trend: function (canvas, data) {
      const rows = data.rows;
      const labels = rows.map(function (r) { return r.month; });
      return {
        data: { labels: labels, datasets: [
          { type: "line", label: "90% high", data: rows.map(function (r) { return r.cost_per_effect_high; }), borderColor: "rgba(31,95,168,0.3)", pointRadius: 0, fill: false },
          { type: "line", label: "90% low", data: rows.map(function (r) { return r.cost_per_effect_low; }), borderColor: "rgba(31,95,168,0.3)", backgroundColor: "rgba(31,95,168,0.15)", pointRadius: 0, fill: "-1" },
          { type: "line", label: "cost per effect", data: rows.map(function (r) { return r.cost_per_effect; }), borderColor: COLORS[0], pointRadius: 3 }
        ] },
        options: { scales: { y: { beginAtZero: true } }, onClick: function (ev, els) { if (els.length) go(canvas, rows[els[0].index].month); } }
      };
    },
    outcomes: function (canvas, data) {
      const rows = data.rows;
      const parts = [["n_effect", "effect"], ["n_no_effect", "no effect"], ["n_failure", "failure"], ["n_aborted", "aborted"]];
      return {
        data: { labels: rows.map(function (r) { return r.product_id; }), datasets: parts.map(function (p, i) {
          return { type: "bar", label: p[1], data: rows.map(function (r) { return r[p[0]]; }), backgroundColor: COLORS[i] };
        }) },
        options: { scales: { x: { stacked: true }, y: { stacked: true } }, onClick: function (ev, els) { if (els.length) go(canvas, rows[els[0].index].product_id); } }
      };
    },
    // failures per mode, most first, with the cumulative share; grouped (by version or a
    // condition's value), each mode's bar is stacked by group, as the table beside it
    pareto: function (canvas, data) {
      const by = data.by || [];
      function group(r) {
        return by.map(function (b) {
          if (b === "version") return "version " + r.version;
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
      const total = Object.values(sums).reduce(function (a, b) { return a + b; }, 0) || 1;
      let run = 0;
      let groups = Object.keys(groupTotals).sort(function (a, b) { return groupTotals[b] - groupTotals[a]; });
      if (groups.length > COLORS.length) {  // the largest groups, the rest as one
        const rest = groups.slice(COLORS.length - 1);
        parts["other groups"] = {};
        rest.forEach(function (g) { modes.forEach(function (m) { parts["other groups"][m] = (parts["other groups"][m] || 0) + (parts[g][m] || 0); }); });
        groups = groups.slice(0, COLORS.length - 1).concat(["other groups"]);
      }
      const bars = by.length
        ? groups.map(function (g, i) { return { type: "bar", label: g, data: modes.map(function (m) { return parts[g][m] || 0; }), backgroundColor: COLORS[i % COLORS.length], yAxisID: "y", stack: "failures" }; })
        : [{ type: "bar", label: "failures", data: modes.map(function (m) { return sums[m]; }), backgroundColor: COLORS[1], yAxisID: "y" }];
      return {
        data: { labels: modes, datasets: bars.concat([
          { type: "line", label: "cumulative share %", data: modes.map(function (m) { run += sums[m]; return 100 * run / total; }), borderColor: "#111", yAxisID: "y1" }
        ]) },
        options: { scales: { x: { stacked: by.length > 0 }, y: { beginAtZero: true, stacked: by.length > 0, title: { display: true, text: "failures" } }, y1: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "cumulative share %" } } } }
      };
    },
    growth: function (canvas, data) {
      const v = data.versions || [];
      const curve = (data.fit && data.fit.curve) || [];
      return {
        data: { datasets: [
          { type: "scatter", label: "reliability by version", data: v.map(function (r) { return { x: r.cumulative_uses, y: r.reliability }; }), backgroundColor: "#111", pointRadius: 5 },
          { type: "bar", label: "90% interval", data: v.map(function (r) { return { x: r.cumulative_uses, y: [r.reliability_low, r.reliability_high] }; }), backgroundColor: "rgba(31,95,168,0.35)", barThickness: 6 },
          { type: "line", label: "growth fit", data: curve.map(function (p) { return { x: p.uses, y: p.reliability }; }), borderColor: COLORS[2], pointRadius: 0 }
        ] },
        options: { scales: { x: { type: "linear", title: { display: true, text: "cumulative uses" } }, y: { title: { display: true, text: "reliability" } } } }
      };
    },
    fan: function (canvas, products) {
      const box = canvas.closest("figure");
      let select = box.querySelector("select");
      if (!select) {
        const label = document.createElement("label");
        label.textContent = "Product ";
        select = document.createElement("select");
        products.forEach(function (p) { const o = document.createElement("option"); o.textContent = p.product_id; select.appendChild(o); });
        label.appendChild(select);
        box.appendChild(label);
      }
      function config(p) {
        const m = p.by_month;
        return { data: { labels: m.map(function (x) { return x.month; }), datasets: [
          { type: "line", label: "90%", data: m.map(function (x) { return x.p90; }), borderColor: "rgba(31,95,168,0.3)", pointRadius: 0, fill: false },
          { type: "line", label: "10%", data: m.map(function (x) { return x.p10; }), borderColor: "rgba(31,95,168,0.3)", backgroundColor: "rgba(31,95,168,0.2)", pointRadius: 0, fill: "-1" },
          { type: "line", label: "median", data: m.map(function (x) { return x.p50; }), borderColor: COLORS[0] },
          { type: "line", label: "demand", data: m.map(function () { return p.monthly_demand; }), borderColor: COLORS[1], borderDash: [4, 4], pointRadius: 0 }
        ] }, options: { scales: { y: { beginAtZero: true } } } };
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
      cfg.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { position: "bottom" } } }, cfg.options);
      new Chart(canvas, cfg);
      canvas.dataset.drawn = "true";
      canvas.dataset.drawnAt = String(performance.now());  // ms since navigation began
    }).catch(function (e) {
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = "The chart could not be drawn (" + e.message + "); the table holds its figures.";
      canvas.closest("figure").appendChild(p);
      canvas.dataset.drawn = "error";
    });
  }
  function drawAll(root) { (root || document).querySelectorAll("canvas[data-chart]").forEach(draw); }
  document.addEventListener("DOMContentLoaded", function () { drawAll(); });
  document.addEventListener("htmx:afterSettle", function (ev) { drawAll(ev.target); });
})();
