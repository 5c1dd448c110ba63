/* levee-chart: a small canvas line chart written for levee's page (not the npm
   Chart.js). Several series over a time x-axis (Unix seconds), an SI y-axis
   (k/M/G with a unit such as "pps" or "bps"), a legend, gaps where data is missing,
   redrawn on resize and on a change of device pixel ratio or colour theme. The
   canvas's data-points attribute is the number of points drawn, over all series. */
(function () {
  'use strict';

  /* Mid-tone colours readable on light and dark backgrounds. */
  var PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#a855f7',
    '#06b6d4', '#ec4899', '#84cc16', '#f97316', '#64748b'];

  /* v formatted with an SI prefix: 1234567 -> "1.23 M". */
  function si(v, unit) {
    var a = Math.abs(v), p = ['', 'k', 'M', 'G', 'T', 'P'], i = 0;
    while (a >= 1000 && i < p.length - 1) { a /= 1000; v /= 1000; i++; }
    var s = a >= 100 || i === 0 && a === Math.round(a) ? v.toFixed(0)
      : a >= 10 ? v.toFixed(1) : v.toFixed(2);
    return s + (p[i] || unit ? ' ' + p[i] + (unit || '') : '');
  }

  /* A "nice" step near range/n: 1, 2 or 5 times a power of ten. */
  function niceStep(range, n) {
    var raw = range / Math.max(1, n), mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var r = raw / mag;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
  }

  function pad(n) { return n < 10 ? '0' + n : '' + n; }

  function timeLabel(t, span) {
    var d = new Date(t * 1000);
    var hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
    if (span > 2 * 86400) { return (d.getMonth() + 1) + '/' + d.getDate() + ' ' + hm; }
    return span <= 900 ? hm + ':' + pad(d.getSeconds()) : hm;
  }

  var TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
    10800, 21600, 43200, 86400];

  /* opts: unit ("pps"), gap (seconds between points past which the line breaks),
     span (seconds shown, ending at the newest point; 0 = all). */
  function LeveeChart(canvas, opts) {
    opts = opts || {};
    this.canvas = canvas;
    this.unit = opts.unit || '';
    this.gap = opts.gap || 0;
    this.span = opts.span || 0;
    this.series = [];
    this.empty = opts.empty || 'no data';
    var self = this;
    this.redraw = function () { self.draw(); };
    if (window.ResizeObserver) {
      this.observer = new ResizeObserver(this.redraw);
      this.observer.observe(canvas);
    } else {
      window.addEventListener('resize', this.redraw);
    }
    this.watchDpr();
    this.draw();
  }

  LeveeChart.prototype.watchDpr = function () {
    if (!window.matchMedia) { return; }
    var self = this, mq = window.matchMedia('(resolution: ' + (window.devicePixelRatio || 1) + 'dppx)');
    var f = function () {
      if (mq.removeEventListener) { mq.removeEventListener('change', f); }
      if (self.destroyed) { return; }
      self.watchDpr();
      self.draw();
    };
    if (mq.addEventListener) { mq.addEventListener('change', f); }
  };

  /* list: [{name, points: [[t, v], ...] (sorted by t), color?, dash?}] (dash: a dashed
     line, e.g. a network's outbound traffic beside its inbound in the same color). */
  LeveeChart.prototype.setSeries = function (list) {
    this.series = list.map(function (s, i) {
      return { name: s.name, points: s.points, color: s.color || PALETTE[i % PALETTE.length], dash: !!s.dash };
    });
    this.draw();
  };

  LeveeChart.prototype.destroy = function () {
    this.destroyed = true;
    if (this.observer) { this.observer.disconnect(); }
    window.removeEventListener('resize', this.redraw);
  };

  LeveeChart.prototype.draw = function () {
    var c = this.canvas;
    if (this.destroyed || !c.isConnected) { return; }
    var dpr = window.devicePixelRatio || 1;
    var w = c.clientWidth, h = c.clientHeight;
    if (w === 0 || h === 0) { c.setAttribute('data-points', '0'); return; }
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    var g = c.getContext('2d');
    if (!g) { return; }
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    var css = getComputedStyle(c);
    var fg = css.getPropertyValue('--fg').trim() || '#222';
    var muted = css.getPropertyValue('--muted').trim() || '#777';
    var grid = css.getPropertyValue('--grid').trim() || 'rgba(128,128,128,.2)';
    g.font = '11px system-ui, sans-serif';
    g.textBaseline = 'middle';

    /* The x range: the newest point back `span` seconds (or every point). */
    var tMin = Infinity, tMax = -Infinity;
    this.series.forEach(function (s) {
      if (s.points.length) {
        tMin = Math.min(tMin, s.points[0][0]);
        tMax = Math.max(tMax, s.points[s.points.length - 1][0]);
      }
    });
    if (this.span && tMax > -Infinity) { tMin = Math.max(tMin, tMax - this.span); }
    var vMax = 0, count = 0;
    var visible = this.series.map(function (s) {
      var pts = s.points.filter(function (p) { return p[0] >= tMin && p[0] <= tMax && isFinite(p[1]); });
      pts.forEach(function (p) { vMax = Math.max(vMax, p[1]); });
      count += pts.length;
      return { name: s.name, color: s.color, dash: s.dash, points: pts };
    });
    c.setAttribute('data-points', String(count));

    /* Legend, wrapping, above the plot. */
    var lx = 4, ly = 9, lineH = 16;
    visible.forEach(function (s) {
      var tw = g.measureText(s.name).width + 22;
      if (lx + tw > w && lx > 4) { lx = 4; ly += lineH; }
      g.fillStyle = s.color;
      g.fillRect(lx, ly - 4, 12, 8);
      g.fillStyle = fg;
      g.textAlign = 'left';
      g.fillText(s.name, lx + 16, ly);
      lx += tw + 6;
    });
    var top = this.series.length ? ly + 14 : 8;

    if (count === 0) {
      g.fillStyle = muted;
      g.textAlign = 'center';
      g.fillText(this.empty, w / 2, (top + h) / 2);
      return;
    }

    /* The y-axis: 0 to a nice maximum; its labels set the left margin. */
    var yStep = niceStep(vMax || 1, Math.max(2, Math.floor((h - top - 24) / 40)));
    var yTop = Math.max(yStep, Math.ceil((vMax || 1) / yStep) * yStep);
    var unit = this.unit, labels = [], left = 0;
    for (var v = 0; v <= yTop + yStep / 2; v += yStep) {
      var text = si(v, unit);
      labels.push([v, text]);
      left = Math.max(left, g.measureText(text).width);
    }
    left = Math.ceil(left) + 10;
    var right = w - 8, bottom = h - 20;
    var span = Math.max(1, tMax - tMin);
    var x = function (t) { return left + (t - tMin) / span * (right - left); };
    var y = function (val) { return bottom - val / yTop * (bottom - top); };

    g.strokeStyle = grid;
    g.lineWidth = 1;
    g.fillStyle = muted;
    g.textAlign = 'right';
    labels.forEach(function (l) {
      var yy = Math.round(y(l[0])) + 0.5;
      g.beginPath(); g.moveTo(left, yy); g.lineTo(right, yy); g.stroke();
      g.fillText(l[1], left - 6, yy);
    });

    /* Time ticks: a step that leaves ~80 px between labels, on round times. */
    var want = span / Math.max(1, (right - left) / 80), tStep = TIME_STEPS[TIME_STEPS.length - 1];
    for (var i = 0; i < TIME_STEPS.length; i++) { if (TIME_STEPS[i] >= want) { tStep = TIME_STEPS[i]; break; } }
    var offset = new Date(tMin * 1000).getTimezoneOffset() * 60;
    g.textAlign = 'center';
    g.textBaseline = 'top';
    for (var t = Math.ceil((tMin - offset) / tStep) * tStep + offset; t <= tMax; t += tStep) {
      var xx = Math.round(x(t)) + 0.5;
      g.beginPath(); g.moveTo(xx, top); g.lineTo(xx, bottom); g.stroke();
      g.fillText(timeLabel(t, span), xx, bottom + 5);
    }

    /* The lines, broken where points are further apart than `gap`. */
    var gap = this.gap;
    g.lineWidth = 1.6;
    g.lineJoin = 'round';
    visible.forEach(function (s) {
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.setLineDash(s.dash ? [5, 3] : []);
      g.beginPath();
      var prev = null;
      s.points.forEach(function (p) {
        if (prev === null || gap && p[0] - prev > gap) {
          g.moveTo(x(p[0]), y(p[1]));
        } else {
          g.lineTo(x(p[0]), y(p[1]));
        }
        prev = p[0];
      });
      g.stroke();
      g.setLineDash([]);
      if (s.points.length === 1) {
        g.beginPath();
        g.arc(x(s.points[0][0]), y(s.points[0][1]), 2.5, 0, 2 * Math.PI);
        g.fill();
      }
    });
  };

  LeveeChart.si = si;
  LeveeChart.PALETTE = PALETTE;
  window.LeveeChart = LeveeChart;
})();
