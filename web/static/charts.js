/* charts.js: the viewer's small SVG charts, drawn with DOM calls only (never from markup, so no
 * text from a job can become markup). Every chart is a function of plain numbers that returns an
 * <svg> element; viewer.js places them. Nothing here fetches or keeps state. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(e);
    return e;
  }

  function text(parent, x, y, s, anchor) {
    var t = el("text", { x: x, y: y, "text-anchor": anchor || "middle" }, parent);
    t.textContent = s;
    return t;
  }

  function svg(w, h, label) {
    var s = el("svg", { width: w, height: h, viewBox: "0 0 " + w + " " + h, class: "plot", role: "img" });
    if (label) el("title", {}, s).textContent = label;
    return s;
  }

  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  /* Means with their 95% intervals on a shared axis [lo, hi] (default [0, 1]): one line per
   * series {cls: "custom"|"base", mean, ci: [low, high], label}. Series without a mean are
   * left out. */
  function intervals(series, opt) {
    opt = opt || {};
    var w = opt.width || 260, rowH = 14, pad = 8, lo = isNum(opt.min) ? opt.min : 0, hi = isNum(opt.max) ? opt.max : 1;
    var shown = series.filter(function (s) { return isNum(s.mean); });
    var h = Math.max(1, shown.length) * rowH + 16;
    var s = svg(w, h, opt.label);
    var x = function (v) { return pad + (clamp(v, lo, hi) - lo) / (hi - lo) * (w - 2 * pad); };
    var axisY = h - 12;
    el("line", { x1: x(lo), x2: x(hi), y1: axisY, y2: axisY, class: "axis" }, s);
    [lo, (lo + hi) / 2, hi].forEach(function (t) {
      el("line", { x1: x(t), x2: x(t), y1: axisY, y2: axisY + 3, class: "axis" }, s);
      text(s, x(t), h - 1, String(+t.toFixed(2)));
    });
    if (lo < 0 && hi > 0) el("line", { x1: x(0), x2: x(0), y1: 2, y2: axisY, class: "zero" }, s);
    shown.forEach(function (d, i) {
      var y = 8 + i * rowH, g = el("g", { class: d.cls }, s);
      if (d.ci && isNum(d.ci[0]) && isNum(d.ci[1])) {
        el("line", { x1: x(d.ci[0]), x2: x(d.ci[1]), y1: y, y2: y, "stroke-width": 2 }, g);
        el("line", { x1: x(d.ci[0]), x2: x(d.ci[0]), y1: y - 4, y2: y + 4, "stroke-width": 1.5 }, g);
        el("line", { x1: x(d.ci[1]), x2: x(d.ci[1]), y1: y - 4, y2: y + 4, "stroke-width": 1.5 }, g);
      }
      el("circle", { cx: x(d.mean), cy: y, r: 4 }, g);
      if (d.label) el("title", {}, g).textContent = d.label;
    });
    return s;
  }

  /* Wins, ties and losses as one stacked bar of the given width. */
  function wtl(wins, ties, losses, opt) {
    opt = opt || {};
    var w = opt.width || 200, h = 14, n = wins + ties + losses;
    var s = svg(w, h, opt.label);
    if (!n) {
      el("rect", { x: 0, y: 0, width: w, height: h, fill: "none", class: "axis" }, s);
      return s;
    }
    var x = 0;
    [["win", wins], ["tie", ties], ["loss", losses]].forEach(function (p) {
      var bw = p[1] / n * w;
      if (bw > 0) {
        var r = el("rect", { x: x, y: 0, width: bw, height: h, class: p[0] }, s);
        el("title", {}, r).textContent = p[0] + ": " + p[1];
      }
      x += bw;
    });
    return s;
  }

  /* A histogram of ratings: one row per rating (in the scale's order), one bar per series
   * {cls, counts: [..]} scaled to the largest count. */
  function histogram(ratings, series, opt) {
    opt = opt || {};
    var w = opt.width || 300, labelW = opt.labelWidth || 120, barH = 9, gap = 6;
    var rowH = series.length * barH + gap, h = ratings.length * rowH + 4;
    var s = svg(w, h, opt.label);
    var max = 1;
    series.forEach(function (sr) { sr.counts.forEach(function (c) { if (c > max) max = c; }); });
    var bw = w - labelW - 40;
    ratings.forEach(function (r, i) {
      var y0 = 2 + i * rowH;
      var t = text(s, labelW - 6, y0 + series.length * barH / 2 + 4, r.length > 22 ? r.slice(0, 21) + "\u2026" : r, "end");
      el("title", {}, t).textContent = r;
      series.forEach(function (sr, j) {
        var c = sr.counts[i] || 0, y = y0 + j * barH;
        var rect = el("rect", { x: labelW, y: y, width: Math.max(c > 0 ? 1 : 0, c / max * bw), height: barH - 1, class: sr.cls }, s);
        el("title", {}, rect).textContent = sr.cls + " \u00b7 " + r + ": " + c;
        text(s, labelW + c / max * bw + 4, y + barH - 1, String(c), "start");
      });
    });
    return s;
  }

  window.LLMAJ = window.LLMAJ || {};
  window.LLMAJ.charts = { intervals: intervals, wtl: wtl, histogram: histogram };
})();
