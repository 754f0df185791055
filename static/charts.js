/* Trend charts of /reports/trends/ and the drift histograms, drawn with the vendored Chart.js
 * (static/vendor/chartjs/) from JSON the server put in the page with Django's json_script
 * (#trend-data, #histogram-data). No inline script, no string-built JavaScript: the page only
 * holds data. The numbers are also in the tables under each chart. */
(function () {
  "use strict";

  var PALETTE = ["#1d4ed8", "#c2410c", "#15803d", "#7e22ce", "#a16207", "#0f766e"];
  var ALARM = "#b91c1c";
  var drawn = new Map();

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  function pct(v) {
    return v === null || v === undefined ? null : Math.round(v * 10000) / 100;
  }

  function constant(labels, value) {
    return labels.map(function () { return value; });
  }

  // A shaded band: the low edge (invisible) then the high edge filled down to it.
  function band(label, low, high, color) {
    return [
      { label: label + " low", data: low, borderWidth: 0, pointRadius: 0, fill: false,
        spanGaps: false, band: true },
      { label: label, data: high, borderWidth: 0, pointRadius: 0, fill: "-1",
        backgroundColor: alpha(color, 0.18), spanGaps: false, band: true },
    ];
  }

  function options(yTitle, extra) {
    var o = {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { ticks: { maxRotation: 0, autoSkip: true } },
        y: { title: { display: true, text: yTitle } },
      },
      plugins: {
        legend: {
          labels: { filter: function (item, data) { return !/ low$/.test(item.text); } },
        },
        tooltip: {
          filter: function (item) { return !/ low$/.test(item.dataset.label); },
        },
      },
    };
    if (extra) {
      Object.keys(extra).forEach(function (k) { o.scales.y[k] = extra[k]; });
    }
    return o;
  }

  // A sparse point (fewer reviews than trend.min_reviews) keeps its estimate, faded and
  // hollow, but no band: its interval would span most of the axis. The tooltip says why.
  function accuracyConfig(s, i, axis, minReviews) {
    var color = PALETTE[i % PALETTE.length];
    var sparse = s.sparse || [];
    var acc = s.accuracy.map(pct);
    var keep = function (v, j) { return sparse[j] ? null : v; };
    var faded = alpha(color, 0.35);
    var datasets = band("95% interval", s.low.map(pct).map(keep), s.high.map(pct).map(keep), color).concat([
      { label: "Accuracy (" + s.tier + ")", data: acc, borderColor: color,
        backgroundColor: acc.map(function (v, j) { return sparse[j] ? "#fff" : color; }),
        pointBorderColor: acc.map(function (v, j) { return sparse[j] ? faded : color; }),
        pointRadius: 3, spanGaps: false,
        segment: { borderColor: function (ctx) {
          return sparse[ctx.p0DataIndex] || sparse[ctx.p1DataIndex] ? faded : color; },
          borderDash: function (ctx) {
          return sparse[ctx.p0DataIndex] || sparse[ctx.p1DataIndex] ? [4, 4] : undefined; } } },
    ]);
    if (s.target !== null && s.target !== undefined) {
      datasets.push({ label: "Target", data: constant(s.labels, pct(s.target)),
        borderColor: "#111827", borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0 });
    }
    if (s.alarms.some(function (n) { return n > 0; })) {
      datasets.push({ label: "Alarm", showLine: false, pointStyle: "triangle", pointRadius: 8,
        borderColor: ALARM, backgroundColor: ALARM,
        data: s.alarms.map(function (n, j) { return n > 0 ? (acc[j] !== null ? acc[j] : pct(s.low[j])) : null; }) });
    }
    var o = options("Accuracy (%)", axis ? { min: axis.min, max: axis.max } : { suggestedMax: 100 });
    o.plugins.tooltip.callbacks = {
      footer: function (items) {
        var j = items.length ? items[0].dataIndex : -1;
        if (j < 0 || !s.reviews) { return ""; }
        return s.reviews[j] + " reviews" + (sparse[j] ? ": fewer than " + minReviews +
          ", too few for a useful interval (faded, no band)" : "");
      },
    };
    return { type: "line", data: { labels: s.labels, datasets: datasets }, options: o };
  }

  function feedbackConfig(s) {
    var down = "#b45309", handoff = "#6d28d9";
    var datasets = band("Thumbs-down 95% interval", s.thumbs_down_low, s.thumbs_down_high, down)
      .concat([{ label: "Thumbs-down per 1,000", data: s.thumbs_down, borderColor: down,
                 backgroundColor: down, pointRadius: 2 }])
      .concat(band("Handoff 95% interval", s.handoff_low, s.handoff_high, handoff))
      .concat([{ label: "Handoffs per 1,000", data: s.handoff, borderColor: handoff,
                 backgroundColor: handoff, pointRadius: 2 }]);
    return { type: "line", data: { labels: s.labels, datasets: datasets },
             options: options("Per 1,000 answers", { beginAtZero: true }) };
  }

  function driftConfig(d) {
    var datasets = [];
    d.series.forEach(function (s, i) {
      var color = PALETTE[i % PALETTE.length];
      datasets.push({ label: "PSI " + s.tier, data: s.psi, borderColor: color,
        backgroundColor: color, pointRadius: 2, spanGaps: false });
      if (s.alarms.some(Boolean)) {
        datasets.push({ label: "Drift alarm " + s.tier, showLine: false, pointStyle: "triangle",
          pointRadius: 8, borderColor: ALARM, backgroundColor: ALARM,
          data: s.alarms.map(function (a, j) { return a ? s.psi[j] : null; }) });
      }
    });
    datasets.push({ label: "Warn " + d.warn, data: constant(d.labels, d.warn),
      borderColor: "#ca8a04", borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0 });
    datasets.push({ label: "Alert " + d.alert, data: constant(d.labels, d.alert),
      borderColor: ALARM, borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0 });
    return { type: "line", data: { labels: d.labels, datasets: datasets },
             options: options("PSI", { beginAtZero: true, suggestedMax: 0.3 }) };
  }

  function histogramConfig(h) {
    return {
      type: "bar",
      data: {
        labels: h.labels,
        datasets: [
          { label: "Reference", data: h.reference.map(pct), backgroundColor: alpha("#6b7280", 0.6) },
          { label: "Production", data: h.production.map(pct), backgroundColor: alpha("#1d4ed8", 0.7) },
        ],
      },
      options: options("Share of answers (%)", { beginAtZero: true }),
    };
  }

  function draw(canvas, config) {
    var old = drawn.get(canvas);
    if (old) { return; }
    drawn.set(canvas, new window.Chart(canvas, config));
    canvas.dataset.drawn = "true";
  }

  function drawAll() {
    if (!window.Chart) { return; }
    // Forget charts whose canvas left the page (an htmx swap).
    drawn.forEach(function (chart, canvas) {
      if (!document.body.contains(canvas)) { chart.destroy(); drawn.delete(canvas); }
    });
    var trend = readJSON("trend-data");
    var histogram = readJSON("histogram-data");
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var kind = canvas.dataset.chart;
      var i = Number(canvas.dataset.index || 0);
      if (kind === "accuracy" && trend && trend.accuracy[i]) {
        draw(canvas, accuracyConfig(trend.accuracy[i], i, trend.accuracy_axis, trend.min_reviews));
      } else if (kind === "feedback" && trend && trend.feedback[i]) {
        draw(canvas, feedbackConfig(trend.feedback[i]));
      } else if (kind === "drift" && trend) {
        draw(canvas, driftConfig(trend.drift));
      } else if (kind === "histogram" && histogram) {
        draw(canvas, histogramConfig(histogram));
      }
    });
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", drawAll);
  // Print: redraw at the printed size (Chart.js keeps the screen size otherwise).
  window.addEventListener("beforeprint", function () {
    drawn.forEach(function (chart) { chart.resize(); });
  });
  window.addEventListener("afterprint", function () {
    drawn.forEach(function (chart) { chart.resize(); });
  });
})();
