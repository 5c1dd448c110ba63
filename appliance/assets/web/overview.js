/* levee's page: the overview. Live traffic per protected network, in (towards its
   prefixes, solid) and out (from them to outside every protected network, dashed, same
   color), and per protocol (inbound; pps and bps), seeded from GET /api/v1/traffic (the last five minutes) and fed every
   second by the `traffic` event; open incidents and active mitigations; the top
   destinations and sources; the health of exporters, BGP peers, RTR and adapters
   (refreshed every 5 s and on incident or mitigation events).
   Hooks: canvas#overview-chart[data-points] (points drawn, over all series). */
(function () {
  'use strict';
  var L = window.Levee, el = L.el;
  var WINDOW = 300;
  var PROTOCOLS = ['tcp', 'udp', 'icmp', 'other'];

  /* Unix second -> {live, nets: {name: {pps, bps, out: {pps, bps}}},
     proto: {tcp: {pps, bps}, ...}} */
  var samples = {};
  var latest = null;

  /* Drops what is older than the window, counted back from the newest second (the
     daemon's clock, which the browser's may not agree with). */
  function prune() {
    var newest = Math.max.apply(null, Object.keys(samples).map(Number).concat([0]));
    var cut = newest - WINDOW - 5;
    Object.keys(samples).forEach(function (t) { if (Number(t) < cut) { delete samples[t]; } });
  }

  function entry(t) {
    return samples[t] || (samples[t] = { live: false, nets: {}, proto: {} });
  }

  function rates(v) {
    v = v || {};
    return { pps: Number(v.pps) || 0, bps: Number(v.bps) || 0 };
  }

  function netSample(v) {
    var r = rates(v);
    r.out = rates(v && v.out);
    return r;
  }

  function addProtocols(into, protocols) {
    if (!protocols || typeof protocols !== 'object') { return; }
    Object.keys(protocols).forEach(function (p) {
      var v = protocols[p] || {}, slot = into[p] || (into[p] = { pps: 0, bps: 0 });
      slot.pps += Number(v.pps) || 0;
      slot.bps += Number(v.bps) || 0;
    });
  }

  /* A `traffic` event: the whole second, every network. */
  function onTraffic(ev) {
    latest = ev;
    var t = Math.floor(L.seconds(ev.time) || L.now());
    var s = samples[t] = { live: true, nets: {}, proto: {} };
    (ev.networks || []).forEach(function (n) {
      s.nets[n.network] = netSample(n);
      addProtocols(s.proto, n.protocols);
    });
    prune();
  }
  L.on('traffic', onTraffic, true);

  /* GET /api/v1/traffic's series, where the stream has not filled a second already. */
  function seed(data) {
    (data && data.series || []).forEach(function (series) {
      (series.points || []).forEach(function (p) {
        var t = Math.floor(L.seconds(p.time));
        if (!isFinite(t) || samples[t] && samples[t].live) { return; }
        var s = entry(t);
        s.nets[series.network] = netSample(p);
        addProtocols(s.proto, p.protocols);
      });
    });
    prune();
  }

  /* Per network (and `all` with more than one), an `in` series and a dashed `out`
     series of the same color. */
  function seriesOf(metric) {
    var times = Object.keys(samples).map(Number).sort(function (a, b) { return a - b; });
    var nets = {}, outs = {}, protos = {}, totals = [], totalsOut = [];
    times.forEach(function (t) {
      var s = samples[t], total = 0, totalOut = 0;
      Object.keys(s.nets).forEach(function (n) {
        (nets[n] = nets[n] || []).push([t, s.nets[n][metric]]);
        (outs[n] = outs[n] || []).push([t, s.nets[n].out[metric]]);
        total += s.nets[n][metric];
        totalOut += s.nets[n].out[metric];
      });
      totals.push([t, total]);
      totalsOut.push([t, totalOut]);
      PROTOCOLS.forEach(function (p) {
        (protos[p] = protos[p] || []).push([t, s.proto[p] ? s.proto[p][metric] : 0]);
      });
    });
    var names = Object.keys(nets).sort();
    var pairs = names.map(function (n) { return [n, nets[n], outs[n]]; });
    if (names.length > 1) { pairs.unshift(['all', totals, totalsOut]); }
    var byNet = [];
    pairs.forEach(function (p, i) {
      var color = LeveeChart.PALETTE[i % LeveeChart.PALETTE.length];
      byNet.push({ name: p[0] + ' in', points: p[1], color: color });
      byNet.push({ name: p[0] + ' out', points: p[2], color: color, dash: true });
    });
    var byProto = times.length ? PROTOCOLS.map(function (p) { return { name: p, points: protos[p] }; }) : [];
    return { byNet: byNet, byProto: byProto };
  }

  function stat(id, label) {
    return el('div', { class: 'stat' }, el('div', { class: 'v', id: id, text: '-' }), el('div', { class: 'k', text: label }));
  }

  function chartPanel(title, id) {
    return el('section', { class: 'panel' }, el('h2', { text: title }), el('canvas', { id: id, class: 'chart' }));
  }

  function topTables(box, ev) {
    L.clear(box);
    var dst = (ev && ev.top_destinations || []).map(function (d) {
      var inc = d.incident === null || d.incident === undefined ? '-' : '#' + d.incident;
      return el('tr', null, el('td', { class: 'mono', text: d.address }), el('td', { text: d.network || '-' }),
        el('td', { text: inc }),
        el('td', { class: 'num', text: L.si(d.pps, 'pps') }), el('td', { class: 'num', text: L.si(d.bps, 'bps') }));
    });
    var src = (ev && ev.top_sources || []).map(function (s) {
      var share = Number(s.share);
      return el('tr', null, el('td', { class: 'mono', text: s.address }),
        el('td', { class: 'num', text: isFinite(share) ? (share * 100).toFixed(1) + ' %' : '-' }));
    });
    box.appendChild(el('section', { class: 'panel' }, el('h2', { text: 'Top destinations' }),
      L.table('top-destinations', ['Address', 'Network', 'Incident', { text: 'pps', class: 'num' }, { text: 'bps', class: 'num' }], dst, ev ? 'no traffic' : 'no data yet')));
    box.appendChild(el('section', { class: 'panel' }, el('h2', { text: 'Top sources' }),
      L.table('top-sources', ['Address', { text: 'Share', class: 'num' }], src, ev ? 'no traffic' : 'no data yet')));
  }

  function state(ok, text) {
    return el('span', { class: ok === null ? 'state-warn' : ok ? 'state-good' : 'state-bad', text: text });
  }

  function health(box, status, peers, exporters) {
    L.clear(box);
    var dl = el('dl', { class: 'kv' });
    function row(k, v) { dl.appendChild(el('dt', { text: k })); dl.appendChild(el('dd', null, v)); }
    if (status) {
      var f = status.flows || {};
      row('Flows', (f.records || 0) + ' records, ' + (f.decode_errors || 0) + ' decode errors, ' + (f.dropped_batches || 0) + ' dropped batches');
      row('Uptime', L.duration(status.uptime_s) + ' (levee ' + status.version + ')');
      var m = status.mitigation || {};
      row('Mitigation', m.up ? state(true, m.dry_run ? 'up, dry run' : 'up') : state(false, 'not answering'));
      (m.adapters || []).forEach(function (a) {
        row('Adapter ' + a.name, state(a.healthy, (a.healthy ? 'healthy' : 'failing') + (a.pending ? ', ' + a.pending + ' pending' : '')));
      });
      if (m.rpki) { row('RTR', state(m.rpki.state === 'synced' ? true : m.rpki.state === 'down' ? false : null, m.rpki.state + ', ' + m.rpki.vrps + ' VRPs')); }
    }
    if (exporters) {
      var recent = exporters.filter(function (e) { return L.now() - L.seconds(e.last_seen) < 120; }).length;
      row('Exporters', state(exporters.length ? recent > 0 : null, exporters.length + ' known, ' + recent + ' seen in the last 2 min'));
    }
    if (peers) {
      var up = peers.peers.filter(function (p) { return p.state === 'Established'; }).length;
      row('BGP peers', state(peers.peers.length ? up === peers.peers.length : null, up + ' of ' + peers.peers.length + ' established'));
    }
    box.appendChild(dl.childNodes.length ? dl : el('p', { class: 'empty', text: 'no data' }));
  }

  L.view('overview', function (ctx) {
    var nets = ['overview-chart', 'overview-bps'], protos = ['overview-proto-pps', 'overview-proto-bps'];
    var tops = el('div', { class: 'grid row' }), healthBox = el('div', null, el('p', { class: 'empty', text: 'loading' }));
    ctx.main.appendChild(el('h1', { text: 'Overview' }));
    ctx.main.appendChild(el('div', { class: 'stats' }, stat('incidents-open', 'open incidents'),
      stat('mitigations-active', 'active mitigations'), stat('total-pps', 'pps now'), stat('total-bps', 'bps now')));
    ctx.main.appendChild(el('div', { class: 'grid row' },
      chartPanel('Packets per second by network, in and out', nets[0]), chartPanel('Bits per second by network, in and out', nets[1]),
      chartPanel('Packets per second in by protocol', protos[0]), chartPanel('Bits per second in by protocol', protos[1])));
    ctx.main.appendChild(tops);
    ctx.main.appendChild(el('section', { class: 'panel' }, el('h2', { text: 'Health' }), healthBox));
    var charts = nets.concat(protos).map(function (id, i) {
      return new LeveeChart(L.$(id), { unit: i % 2 ? 'bps' : 'pps', gap: 3, span: WINDOW, empty: 'no traffic data' });
    });
    function draw() {
      if (!ctx.current()) { charts.forEach(function (c) { c.destroy(); }); return; }
      var pps = seriesOf('pps'), bps = seriesOf('bps');
      charts[0].setSeries(pps.byNet); charts[1].setSeries(bps.byNet);
      charts[2].setSeries(pps.byProto); charts[3].setSeries(bps.byProto);
      var last = Object.keys(samples).map(Number).sort(function (a, b) { return b - a; })[0];
      var total = { pps: 0, bps: 0 };
      if (last !== undefined) {
        Object.keys(samples[last].nets).forEach(function (n) { total.pps += samples[last].nets[n].pps; total.bps += samples[last].nets[n].bps; });
        L.$('total-pps').textContent = L.si(total.pps, 'pps');
        L.$('total-bps').textContent = L.si(total.bps, 'bps');
      }
    }
    L.on('theme', draw);
    L.on('traffic', function (ev) {
      draw();
      if (ev.incidents_open !== undefined) { L.$('incidents-open').textContent = String(ev.incidents_open); }
      if (ev.mitigations_active !== undefined) { L.$('mitigations-active').textContent = String(ev.mitigations_active); }
      topTables(tops, ev);
    });
    topTables(tops, latest);

    function counts() {
      return Promise.all([
        L.api('GET', '/incidents?open=true&limit=1000').then(function (d) {
          L.$('incidents-open').textContent = d.incidents.length + (d.next_before ? '+' : '');
        }, function () { return null; }),
        L.api('GET', '/mitigations').then(function (d) {
          L.$('mitigations-active').textContent = String(d.mitigations.length);
        }, function () { return null; })
      ]);
    }
    function refresh() {
      var none = function () { return null; };
      return Promise.all([L.api('GET', '/status').then(null, none), L.api('GET', '/peers').then(null, none),
        L.api('GET', '/exporters').then(null, none)]).then(function (r) {
        if (ctx.current()) { health(healthBox, r[0], r[1], r[2] && r[2].exporters); }
      });
    }
    var pending = null;
    function soon() {
      if (pending) { return; }
      pending = setTimeout(function () { pending = null; if (ctx.current()) { counts(); refresh(); } }, 500);
    }
    L.on('incident', soon);
    L.on('mitigation', soon);
    L.on('lagged', function () { seedNow().then(draw); soon(); });
    L.every(5000, refresh);

    function seedNow() {
      var to = Math.floor(L.now());
      return L.api('GET', '/traffic' + L.query({ from: to - WINDOW, to: to, step: '1s' })).then(seed, function () { return null; });
    }
    return Promise.all([seedNow(), counts(), refresh()]).then(draw);
  });
})();
