/* levee's page: incidents. The list (GET /api/v1/incidents with its filters, paged by
   `before`, a CSV export for analysts) and one incident (GET /api/v1/incidents/{id}):
   its timeline, family, vector, confidence, evidence and notes as the API gives them,
   and the mitigations it caused.
   Hooks: table#incident-list with tr[data-incident-id]; canvas#incident-timeline
   [data-points]; table#incident-mitigations with tr[data-mitigation-id]. */
(function () {
  'use strict';
  var L = window.Levee, el = L.el;

  /* Kept while the page is open, so that going back to the list keeps the filters. */
  var filters = { network: '', victim: '', family: '', since: '', until: '', open: '', limit: '50' };
  var pages = [null];
  var search = '';

  function toUnix(local) {
    var ms = local ? Date.parse(local) : NaN;
    return isFinite(ms) ? Math.floor(ms / 1000) : null;
  }

  function params() {
    return {
      network: filters.network.trim(), victim: filters.victim.trim(), family: filters.family.trim(),
      since: toUnix(filters.since), until: toUnix(filters.until), open: filters.open, limit: filters.limit
    };
  }

  function field(name, label, type, attrs) {
    var input = el('input', Object.assign({ type: type || 'text', name: name, id: 'filter-' + name, value: filters[name] }, attrs || {}));
    return el('label', null, label, input);
  }

  function filterForm(apply) {
    var open = el('select', { name: 'open', id: 'filter-open' },
      [['', 'any'], ['true', 'open'], ['false', 'ended']].map(function (o) {
        return el('option', { value: o[0], selected: filters.open === o[0], text: o[1] });
      }));
    var limit = el('select', { name: 'limit', id: 'filter-limit' }, ['25', '50', '100', '500'].map(function (n) {
      return el('option', { value: n, selected: filters.limit === n, text: n });
    }));
    var form = el('form', { class: 'filters', id: 'incident-filters' },
      field('network', 'Network', 'text', { placeholder: 'any', size: 10 }),
      field('victim', 'Victim', 'text', { placeholder: 'address or network', size: 16 }),
      field('family', 'Family', 'text', { placeholder: 'e.g. udp_flood', size: 12 }),
      field('since', 'Started after', 'datetime-local'), field('until', 'Started before', 'datetime-local'),
      el('label', null, 'State', open), el('label', null, 'Per page', limit),
      el('button', { type: 'submit', class: 'primary', text: 'Apply' }),
      el('button', { type: 'reset', text: 'Reset' }));
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      Object.keys(filters).forEach(function (k) { if (form.elements[k]) { filters[k] = form.elements[k].value; } });
      pages = [null];
      apply();
    });
    form.addEventListener('reset', function (e) {
      e.preventDefault();
      filters = { network: '', victim: '', family: '', since: '', until: '', open: '', limit: '50' };
      pages = [null];
      L.render();
    });
    return form;
  }

  function row(i) {
    var href = '#/incidents/' + encodeURIComponent(i.id);
    var tr = el('tr', { 'data-incident-id': i.id },
      el('td', null, el('a', { href: href, text: '#' + i.id })),
      el('td', { class: 'mono', text: i.victim }), el('td', { text: i.network }),
      el('td', { text: i.family }), el('td', { text: i.vector }),
      el('td', { text: L.when(i.start) }),
      el('td', null, i.open ? el('span', { class: 'state-bad', text: 'open' }) : L.when(i.end)),
      el('td', { class: 'num', text: L.si(i.peak_pps, 'pps') }), el('td', { class: 'num', text: L.si(i.peak_bps, 'bps') }),
      el('td', { class: 'num', text: i.confidence }));
    tr.setAttribute('data-search', [i.id, i.victim, i.network, i.family, i.vector].join(' ').toLowerCase());
    return tr;
  }

  function applySearch(box) {
    var q = search.trim().toLowerCase();
    Array.prototype.forEach.call(box.querySelectorAll('tr[data-incident-id]'), function (tr) {
      tr.hidden = q !== '' && tr.getAttribute('data-search').indexOf(q) < 0;
    });
  }

  L.view('incidents', function (ctx) {
    if (ctx.arg !== null) { return detail(ctx); }
    var box = el('div'), pager = el('div', { class: 'pager' }), csv = el('span');
    var searchInput = el('input', { type: 'search', id: 'incident-search', placeholder: 'Search this page', value: search });
    searchInput.addEventListener('input', function () { search = searchInput.value; applySearch(box); });
    ctx.main.appendChild(el('h1', { text: 'Incidents' }));
    ctx.main.appendChild(el('section', { class: 'panel' }, filterForm(load)));
    ctx.main.appendChild(el('section', { class: 'panel' },
      el('div', { class: 'pager' }, el('label', null, 'Search', searchInput), csv), box, pager));

    function load() {
      var p = params(), before = pages[pages.length - 1];
      L.clear(csv);
      if (L.can('analyst')) {
        var q = Object.assign({}, p, { format: 'csv', limit: 1000 });
        csv.appendChild(el('a', { id: 'incident-csv', href: '/api/v1/incidents' + L.query(q), download: 'incidents.csv', text: 'Export CSV' }));
      }
      p.before = before;
      return L.api('GET', '/incidents' + L.query(p)).then(function (d) {
        if (!ctx.current()) { return; }
        L.clear(box).appendChild(L.table('incident-list', ['Id', 'Victim', 'Network', 'Family', 'Vector', 'Started', 'Ended',
          { text: 'Peak pps', class: 'num' }, { text: 'Peak bps', class: 'num' }, { text: 'Conf.', class: 'num' }],
        d.incidents.map(row), 'no incidents match'));
        applySearch(box);
        L.clear(pager);
        var prev = el('button', { type: 'button', text: 'Newer', disabled: pages.length < 2 });
        prev.addEventListener('click', function () { pages.pop(); load(); });
        var next = el('button', { type: 'button', text: 'Older', disabled: d.next_before === null || d.next_before === undefined });
        next.addEventListener('click', function () { pages.push(d.next_before); load(); });
        pager.appendChild(prev);
        pager.appendChild(el('span', { class: 'muted', text: 'page ' + pages.length }));
        pager.appendChild(next);
      }, function (e) {
        if (ctx.current()) { L.clear(box).appendChild(L.errorBox(e)); L.clear(pager); }
      });
    }
    var pending = null;
    L.on('incident', function () {
      if (pending || pages.length > 1) { return; }
      pending = setTimeout(function () { pending = null; if (ctx.current()) { load(); } }, 700);
    });
    L.on('lagged', load);
    return load();
  });

  /* --- one incident ---------------------------------------------------------- */

  /* The timeline as [{time, pps, bps, seconds}], whatever shape it came in. */
  function points(tl, network) {
    if (!tl) { return []; }
    if (Array.isArray(tl)) { return tl; }
    if (Array.isArray(tl.points)) { return tl.points; }
    if (Array.isArray(tl.series)) {
      var mine = tl.series.filter(function (s) { return !network || s.network === network; });
      return [].concat.apply([], (mine.length ? mine : tl.series).map(function (s) { return s.points || []; }));
    }
    return [];
  }

  function timeline(ctx, v, pps, bps) {
    var charts = [new LeveeChart(pps, { unit: 'pps', empty: 'no traffic history' }),
      new LeveeChart(bps, { unit: 'bps', empty: 'no traffic history' })];
    L.on('theme', function () { charts.forEach(function (c) { c.draw(); }); });
    function drawPoints(list) {
      var pts = list.map(function (p) { return { t: L.seconds(p.time), p: p }; })
        .filter(function (x) { return x.t !== null; })
        .sort(function (a, b) { return a.t - b.t; });
      var step = pts.reduce(function (m, x) { return Math.max(m, Number(x.p.seconds) || 0); }, 0) || 1;
      charts.forEach(function (c) { c.gap = step * 2.5; });
      var line = function (key) { return pts.map(function (x) { return [x.t, Number(x.p[key]) || 0]; }); };
      var peak = function (key) { return pts.filter(function (x) { return x.p[key] !== undefined; }).map(function (x) { return [x.t, Number(x.p[key])]; }); };
      var series = function (key) {
        var s = [{ name: key, points: line(key) }], pk = peak('peak_' + key);
        if (pk.length && step > 1) { s.push({ name: 'peak ' + key, points: pk }); }
        return s;
      };
      charts[0].setSeries(series('pps'));
      charts[1].setSeries(series('bps'));
    }
    var given = points(v.timeline, v.network);
    if (given.length) { drawPoints(given); return Promise.resolve(); }
    var start = L.seconds(v.start), end = v.end ? L.seconds(v.end) : L.now();
    var q = { network: v.network, from: Math.floor(start - 120), to: Math.ceil(end + 120) };
    if (end - start > 3000) { q.step = '60s'; }
    return L.api('GET', '/traffic' + L.query(q)).then(function (d) {
      if (ctx.current()) { drawPoints(points(d, v.network)); }
    }, function () { drawPoints([]); });
  }

  function mitigationRows(list) {
    return (list || []).map(function (m) {
      return el('tr', { 'data-mitigation-id': m.id },
        el('td', { text: m.id }), el('td', { text: m.level === null || m.level === undefined ? '-' : 'L' + m.level }),
        el('td', { class: 'mono wrap', text: m.route }), el('td', { text: m.state || '-' }),
        el('td', { text: L.when(m.announced) }), el('td', { text: L.when(m.expires) }),
        el('td', { text: L.when(m.withdrawn) }), el('td', { text: m.reason || '-' }),
        el('td', null, m.adapters ? L.show(m.adapters) : '-'));
    });
  }

  /* A share (0..1) as a percentage with a bar: the picture of a heavy hitter. */
  function share(x) {
    var pct = Math.max(0, Math.min(1, Number(x) || 0)) * 100;
    var fill = el('span', { class: 'bar-fill' });
    fill.style.width = pct.toFixed(1) + '%';
    return el('span', { class: 'share' }, el('span', { class: 'bar' }, fill),
      el('span', { class: 'num', text: pct.toFixed(pct < 10 ? 1 : 0) + '%' }));
  }

  /* One "top" list (key column + share) as a small table with bars. */
  function topTable(title, key, rows) {
    var body = (rows || []).length ? el('table', { class: 'top' },
      el('tbody', null, rows.map(function (r) {
        return el('tr', null, el('td', { class: 'mono', text: String(r[key]) }), el('td', null, share(r.share)));
      }))) : el('p', { class: 'muted', text: 'none' });
    return el('div', { class: 'top-list' }, el('h3', { text: title }), body);
  }

  function yes(b) { return b ? 'yes' : 'no'; }

  /* The evidence the detector stored: classification, trigger, rates, findings, and the
     heavy hitters as bars. Unknown fields are shown as they come. */
  function evidence(ev) {
    var t = ev.trigger || {};
    var facts = {
      classification: (ev.family || '-') + ' / ' + (ev.vector || '-') + ', confidence ' + (ev.confidence === undefined ? '-' : ev.confidence + '%'),
      trigger: t.metric ? t.metric + ' ' + L.si(t.value, t.metric) + ' over its threshold of ' + L.si(t.threshold, t.metric) + (t.reason ? ' (' + t.reason + ')' : '') : '-',
      rate: ev.rate ? L.si(ev.rate.pps, 'pps') + ', ' + L.si(ev.rate.bps, 'bps') : '-',
      peak: ev.peak ? L.si(ev.peak.pps, 'pps') + ', ' + L.si(ev.peak.bps, 'bps') : '-',
      'distinct sources': ev.distinct_sources === undefined ? '-' : String(ev.distinct_sources),
      botnet: yes(ev.botnet), spoofed: yes(ev.spoofed),
      'threat intelligence': (ev.threat_intel_matches || 0) + ' listed sources, ' + L.si(ev.threat_intel_packets || 0, 'packets'),
      'as of': L.when(ev.as_of)
    };
    var known = ['family', 'vector', 'confidence', 'trigger', 'rate', 'peak', 'distinct_sources', 'botnet', 'spoofed',
      'threat_intel_matches', 'threat_intel_packets', 'as_of', 'top_sources', 'top_src_ports', 'top_dst_ports',
      'top_packet_lengths', 'threat_intel'];
    var out = el('div', null, L.show(facts),
      el('div', { class: 'tops' },
        topTable('Top sources', 'address', ev.top_sources),
        topTable('Destination ports', 'port', ev.top_dst_ports),
        topTable('Source ports', 'port', ev.top_src_ports),
        topTable('Packet lengths', 'length', ev.top_packet_lengths)));
    if ((ev.threat_intel || []).length) {
      out.appendChild(el('h3', { text: 'Threat-intelligence matches' }));
      out.appendChild(L.show(ev.threat_intel));
    }
    var more = {};
    Object.keys(ev).forEach(function (k) { if (known.indexOf(k) < 0) { more[k] = ev[k]; } });
    if (Object.keys(more).length) { out.appendChild(L.show(more)); }
    return out;
  }

  /* Notes, and for analysts and up a form to add one (POST .../notes). */
  function notes(v, reload) {
    var list = (v.notes || []).length ? el('ul', { class: 'plain notes' }, v.notes.map(function (n) {
      return el('li', null, el('div', { class: 'muted', text: L.when(n.time) + ' · ' + n.author }),
        el('p', { class: 'wrap', text: n.text }));
    })) : el('p', { class: 'muted', text: 'none' });
    var section = el('section', { class: 'panel', id: 'incident-notes' }, el('h2', { text: 'Notes' }), list);
    if (L.can('analyst')) {
      var text = el('textarea', { id: 'note-text', rows: 3, maxlength: 4096, required: true });
      var msg = el('p', { class: 'muted' });
      var form = el('form', { id: 'note-add' }, el('label', null, 'Add a note', text),
        el('button', { type: 'submit', class: 'primary', text: 'Add note' }), msg);
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        L.api('POST', '/incidents/' + v.id + '/notes', { text: text.value }).then(reload, function (e) {
          msg.textContent = e.message || String(e);
        });
      });
      section.appendChild(form);
    }
    return section;
  }

  var KNOWN = ['id', 'victim', 'network', 'family', 'vector', 'start', 'end', 'open', 'peak_pps', 'peak_bps',
    'confidence', 'mitigations', 'timeline', 'evidence', 'notes'];

  function detail(ctx) {
    var id = ctx.arg;
    ctx.main.appendChild(el('p', null, el('a', { href: '#/incidents', text: '\u2190 Incidents' })));
    var head = el('h1', { text: 'Incident #' + id });
    var summary = el('section', { class: 'panel' }, el('p', { class: 'empty', text: 'loading' }));
    var pps = el('canvas', { id: 'incident-timeline', class: 'chart', 'data-points': 0 });
    var bps = el('canvas', { id: 'incident-timeline-bps', class: 'chart', 'data-points': 0 });
    var rest = el('div');
    ctx.main.appendChild(head);
    ctx.main.appendChild(summary);
    ctx.main.appendChild(el('div', { class: 'grid row' },
      el('section', { class: 'panel' }, el('h2', { text: 'Packets per second' }), pps),
      el('section', { class: 'panel' }, el('h2', { text: 'Bits per second' }), bps)));
    ctx.main.appendChild(rest);

    function fill(v) {
      head.textContent = 'Incident #' + v.id + ' \u2014 ' + v.victim;
      var end = v.end ? L.seconds(v.end) : L.now();
      var facts = {
        victim: v.victim, network: v.network, family: v.family, vector: v.vector,
        confidence: v.confidence, started: L.when(v.start), ended: v.open ? 'still open' : L.when(v.end),
        duration: L.duration(end - L.seconds(v.start)),
        peak: L.si(v.peak_pps, 'pps') + ', ' + L.si(v.peak_bps, 'bps')
      };
      L.clear(summary).appendChild(L.show(facts));
      L.clear(rest);
      if (v.evidence !== undefined && v.evidence !== null) {
        rest.appendChild(el('section', { class: 'panel', id: 'incident-evidence' }, el('h2', { text: 'Evidence' }),
          typeof v.evidence === 'object' ? evidence(v.evidence) : L.show(v.evidence)));
      }
      if (Array.isArray(v.notes)) {
        rest.appendChild(notes(v, function () { return load(); }));
      }
      var more = {};
      Object.keys(v).forEach(function (k) { if (KNOWN.indexOf(k) < 0) { more[k] = v[k]; } });
      if (Object.keys(more).length) {
        rest.appendChild(el('section', { class: 'panel' }, el('h2', { text: 'More' }), L.show(more)));
      }
      rest.appendChild(el('section', { class: 'panel' }, el('h2', { text: 'Mitigations' }),
        L.table('incident-mitigations', ['Id', 'Level', 'Route', 'State', 'Announced', 'Expires', 'Withdrawn', 'Reason', 'Adapters'],
          mitigationRows(v.mitigations), 'none: this incident caused no mitigation')));
    }

    function load() {
      return L.api('GET', '/incidents/' + encodeURIComponent(id)).then(function (v) {
        if (!ctx.current()) { return; }
        fill(v);
        return timeline(ctx, v, pps, bps);
      });
    }
    var pending = null;
    function soon(ev) {
      if (pending || String(ev.id) !== String(id) && String(ev.incident) !== String(id)) { return; }
      pending = setTimeout(function () { pending = null; if (ctx.current()) { load(); } }, 700);
    }
    L.on('incident', soon);
    L.on('mitigation', soon);
    return load().then(null, function (e) {
      if (ctx.current()) { L.clear(summary).appendChild(L.errorBox(e)); }
    });
  }
})();
