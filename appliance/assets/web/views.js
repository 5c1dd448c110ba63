/* levee's page: mitigations (with the operator's withdraw, extend and add), BGP peers,
   RTR and adapters, flow exporters, the audit log, and the login form.
   Hooks: table#mitigation-list with tr[data-mitigation-id]; for operators
   button.withdraw and button.extend [data-mitigation-id] and form#mitigation-add;
   form#login-form, input#login-user, input#login-password, button#login-submit. */
(function () {
  'use strict';
  var L = window.Levee, el = L.el;

  /* --- mitigations ----------------------------------------------------------- */

  var typedTtl = {}; /* mitigation id -> what the operator typed, kept across refreshes */

  function adapters(list) {
    if (!list || !list.length) { return '-'; }
    return list.map(function (a) {
      var st = typeof a.state === 'string' ? a.state : JSON.stringify(a.state);
      return a.adapter + ': ' + st + (a.error ? ' (' + a.error + ')' : '');
    }).join('; ');
  }

  function ttlCell(expiresUs) {
    return el('td', { class: 'num ttl', 'data-expires': expiresUs / 1e6, text: L.duration(expiresUs / 1e6 - L.now()) });
  }

  function tick(root) {
    Array.prototype.forEach.call(root.querySelectorAll('td.ttl'), function (td) {
      var left = Number(td.getAttribute('data-expires')) - L.now();
      td.textContent = left > 0 ? L.duration(left) : 'expiring';
    });
  }

  function mitigationRow(m, operator, act) {
    var actions = null;
    if (operator) {
      var ttl = el('input', { type: 'text', class: 'ttl extend-ttl', 'data-mitigation-id': m.id, value: typedTtl[m.id] || '10m', 'aria-label': 'new TTL' });
      ttl.addEventListener('input', function () { typedTtl[m.id] = ttl.value; });
      actions = el('td', null, el('div', { class: 'actions' }, ttl,
        el('button', { type: 'button', class: 'extend', 'data-mitigation-id': m.id, text: 'Extend',
          onclick: function (e) { act(e.target, 'PATCH', m.id, { ttl: ttl.value.trim() }); } }),
        el('button', { type: 'button', class: 'withdraw danger', 'data-mitigation-id': m.id, text: 'Withdraw',
          onclick: function (e) { act(e.target, 'DELETE', m.id); } })));
    }
    return el('tr', { 'data-mitigation-id': m.id },
      el('td', { text: m.id }), el('td', { text: m.level ? 'L' + m.level : 'route' }),
      el('td', { class: 'mono wrap', text: m.route }), el('td', { class: 'mono', text: m.victim }),
      el('td', { text: m.network }), el('td', { text: m.origin + (m.dry_run ? ' (dry run)' : '') }),
      el('td', null, m.incident ? el('a', { href: '#/incidents/' + m.incident, text: '#' + m.incident }) : '-'),
      el('td', { text: L.when(m.created_us) }), ttlCell(m.expires_us),
      el('td', { class: 'wrap', text: adapters(m.adapters) }), actions);
  }

  function addForm(done) {
    var kind = el('select', { id: 'add-kind', name: 'kind' },
      el('option', { value: 'level', text: 'address and level' }), el('option', { value: 'route', text: 'route text' }));
    var route = el('input', { type: 'text', id: 'add-route', name: 'route', size: 40, placeholder: 'flow destination 192.0.2.1/32 then discard' });
    var address = el('input', { type: 'text', id: 'add-address', name: 'address', size: 18, placeholder: '203.0.113.9' });
    var level = el('select', { id: 'add-level', name: 'level' }, [1, 2, 3, 4].map(function (n) {
      return el('option', { value: n, text: 'L' + n });
    }));
    var ttl = el('input', { type: 'text', id: 'add-ttl', name: 'ttl', class: 'ttl', placeholder: 'default' });
    var routeL = el('label', null, 'Route', route), addrL = el('label', null, 'Address', address), levelL = el('label', null, 'Level', level);
    var form = el('form', { class: 'inline', id: 'mitigation-add' }, el('label', null, 'Announce', kind), addrL, levelL, routeL,
      el('label', null, 'TTL', ttl), el('button', { type: 'submit', class: 'primary', text: 'Announce' }));
    function sync() {
      var r = kind.value === 'route';
      routeL.hidden = !r; addrL.hidden = r; levelL.hidden = r;
    }
    kind.addEventListener('change', sync);
    sync();
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var body = kind.value === 'route' ? { route: route.value.trim() }
        : { address: address.value.trim(), level: Number(level.value) };
      if (ttl.value.trim()) { body.ttl = ttl.value.trim(); }
      var button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      L.api('POST', '/mitigations', body).then(function (r) {
        done(null, 'Announced: ' + (r && r.ids ? r.ids.map(function (i) { return '#' + i; }).join(', ') || 'nothing new' : 'ok'));
        route.value = ''; address.value = '';
      }, function (err) { done(err); }).then(function () { button.disabled = false; });
    });
    return form;
  }

  L.view('mitigations', function (ctx) {
    var operator = L.can('operator');
    var msg = el('div', { id: 'mitigation-message', 'aria-live': 'polite' }), box = el('div'), banner = el('div');
    ctx.main.appendChild(el('h1', { text: 'Mitigations' }));
    ctx.main.appendChild(banner);
    function say(err, text) {
      L.clear(msg).appendChild(err ? L.errorBox(err) : el('p', { class: 'ok', text: text }));
      load();
    }
    if (operator) {
      ctx.main.appendChild(el('section', { class: 'panel' }, el('h2', { text: 'Add' }), addForm(say)));
    }
    ctx.main.appendChild(msg);
    ctx.main.appendChild(el('section', { class: 'panel' }, el('h2', { text: 'Active' }), box));

    function act(button, method, id, body) {
      button.disabled = true;
      L.api(method, '/mitigations/' + id, body).then(function () {
        say(null, (method === 'DELETE' ? 'Withdrew #' : 'Extended #') + id);
      }, function (err) { button.disabled = false; say(err); });
    }

    function load() {
      return L.api('GET', '/mitigations').then(function (d) {
        if (!ctx.current()) { return; }
        var list = d.mitigations.slice().sort(function (a, b) {
          return (a.level || 9) - (b.level || 9) || a.id - b.id;
        });
        L.clear(banner);
        if (d.dry_run) { banner.appendChild(el('div', { class: 'banner', text: 'Dry run: decisions are logged and stored; nothing is announced.' })); }
        var counts = {};
        list.forEach(function (m) { var k = m.level ? 'L' + m.level : 'route'; counts[k] = (counts[k] || 0) + 1; });
        var head = ['Id', 'Level', 'Route', 'Victim', 'Network', 'Origin', 'Incident', 'Announced', { text: 'TTL', class: 'num' }, 'Adapters'];
        if (operator) { head.push('Actions'); }
        L.clear(box).appendChild(el('p', { class: 'muted', text: list.length + ' active' +
          (list.length ? ': ' + Object.keys(counts).map(function (k) { return k + ' ' + counts[k]; }).join(', ') : '') }));
        box.appendChild(L.table('mitigation-list', head, list.map(function (m) { return mitigationRow(m, operator, act); }), 'no active mitigation'));
      }, function (e) { if (ctx.current()) { L.clear(box).appendChild(L.errorBox(e)); } });
    }
    L.every(1000, function () { tick(box); });
    L.every(15000, load);
    L.on('mitigation', load);
    L.on('lagged', load);
    return load();
  });

  /* --- peers, RTR and adapters ----------------------------------------------- */

  function lastError(p) {
    var keys = Object.keys(p).filter(function (k) { return /error|notification/.test(k) && p[k] !== null && p[k] !== ''; });
    return keys.length ? keys.map(function (k) { return typeof p[k] === 'object' ? JSON.stringify(p[k]) : String(p[k]); }).join('; ') : '-';
  }

  L.view('peers', function (ctx) {
    var box = el('div');
    ctx.main.appendChild(el('h1', { text: 'Peers and adapters' }));
    ctx.main.appendChild(box);
    function load() {
      return Promise.all([L.api('GET', '/peers'), L.api('GET', '/status').then(null, function () { return null; })]).then(function (r) {
        if (!ctx.current()) { return; }
        var d = r[0], st = r[1];
        L.clear(box);
        var rows = d.peers.map(function (p) {
          var up = p.established_at ? L.now() - L.seconds(p.established_at) : null;
          return el('tr', { 'data-peer': p.name },
            el('td', { text: p.name }), el('td', { class: 'mono', text: p.address + (p.port ? ':' + p.port : '') }),
            el('td', { class: 'num', text: p.remote_as }),
            el('td', { class: p.state === 'Established' ? 'state-good' : 'state-bad', text: p.state }),
            el('td', { text: up === null ? '-' : L.duration(up) }), el('td', { class: 'num', text: p.established_count }),
            el('td', { class: 'num', text: p.updates_in + ' / ' + p.updates_out }),
            el('td', { class: 'num', text: p.routes_sent }), el('td', { class: 'num', text: p.routes_pending }),
            el('td', { class: 'num', text: p.routes_received }), el('td', { class: 'num', text: p.routes_rejected }),
            el('td', { class: 'wrap', text: lastError(p) }));
        });
        box.appendChild(el('section', { class: 'panel' }, el('h2', { text: 'BGP sessions' }),
          L.table('peer-list', ['Name', 'Address', { text: 'AS', class: 'num' }, 'State', 'Up for', { text: 'Sessions', class: 'num' },
            { text: 'Updates in/out', class: 'num' }, { text: 'Sent', class: 'num' }, { text: 'Pending', class: 'num' },
            { text: 'Received', class: 'num' }, { text: 'Rejected', class: 'num' }, 'Last error'], rows, 'no BGP peers configured')));
        box.appendChild(el('section', { class: 'panel' }, el('h2', { text: 'RTR (RPKI)' }),
          d.rtr ? L.show(d.rtr) : el('p', { class: 'empty', text: 'no RTR cache configured' })));
        var ads = st && st.mitigation && st.mitigation.adapters || [];
        box.appendChild(el('section', { class: 'panel' }, el('h2', { text: 'Adapters' }),
          L.table('adapter-list', ['Name', 'State', { text: 'Backlog', class: 'num' }], ads.map(function (a) {
            return el('tr', null, el('td', { text: a.name }),
              el('td', { class: a.healthy ? 'state-good' : 'state-bad', text: a.healthy ? 'healthy' : 'failing' }),
              el('td', { class: 'num', text: a.pending }));
          }), st ? 'no adapters' : 'the mitigation service did not answer')));
      });
    }
    L.every(5000, function () { load().then(null, function () { return null; }); });
    return load();
  });

  /* --- exporters ------------------------------------------------------------- */

  L.view('exporters', function (ctx) {
    var box = el('div');
    ctx.main.appendChild(el('h1', { text: 'Flow exporters' }));
    ctx.main.appendChild(el('section', { class: 'panel' }, box));
    var cols = ['datagrams', 'records', 'decode_errors', 'template_misses', 'lost_datagrams', 'sequence_resets'];
    function load() {
      return L.api('GET', '/exporters').then(function (d) {
        if (!ctx.current()) { return; }
        L.clear(box).appendChild(L.table('exporter-list', ['Listener', 'Address', 'Name'].concat(cols.map(function (c) {
          return { text: L.label(c), class: 'num' };
        }), [{ text: 'Sampling', class: 'num' }, 'Last seen', 'Ago']), d.exporters.map(function (e) {
          var ago = L.now() - L.seconds(e.last_seen);
          return el('tr', { 'data-exporter': e.address },
            el('td', { text: e.listener }), el('td', { class: 'mono', text: e.address }), el('td', { text: e.name || '-' }),
            cols.map(function (c) { return el('td', { class: 'num' + (c !== 'datagrams' && c !== 'records' && e[c] ? ' state-warn' : ''), text: e[c] }); }),
            el('td', { class: 'num', text: e.sampling ? '1:' + e.sampling : '-' }),
            el('td', { text: L.when(e.last_seen) }),
            el('td', { class: ago > 120 ? 'state-bad' : 'state-good', text: L.duration(ago) }));
        }), 'no exporter has sent flows yet'));
      });
    }
    L.every(5000, function () { load().then(null, function () { return null; }); });
    return load();
  });

  /* --- audit ----------------------------------------------------------------- */

  var auditPages = [0];

  L.view('audit', function (ctx) {
    var head = el('div'), box = el('div'), pager = el('div', { class: 'pager' });
    ctx.main.appendChild(el('h1', { text: 'Audit log' }));
    ctx.main.appendChild(el('section', { class: 'panel' }, el('h2', { text: 'Chain' }), head));
    ctx.main.appendChild(el('section', { class: 'panel' }, box, pager));
    function load() {
      var after = auditPages[auditPages.length - 1];
      return L.api('GET', '/audit' + L.query({ after: after, limit: 50 })).then(function (d) {
        if (!ctx.current()) { return; }
        L.clear(head);
        var v = d.verification;
        if (v && v.state) {
          var ok = v.state === 'intact';
          head.appendChild(el('p', { id: 'audit-verification', class: ok ? 'state-good' : 'state-bad',
            text: ok ? 'Chain verified: ' + v.entries + ' entries intact (checked ' + L.when(v.checked) + ')'
              : 'Chain ' + v.state.replace('_', ' ') + (v.seq !== undefined ? ' at entry #' + v.seq : '') +
                (v.mitigation !== undefined ? ' (mitigation ' + v.mitigation + ')' : '') + ': ' + (v.why || '') }));
        }
        if (d.head) {
          head.appendChild(L.show({ entries: d.head.entries, head: d.head.head, keyed: d.head.keyed ? 'yes (HMAC)' : 'no' }));
        } else if (!v) {
          head.appendChild(el('p', { class: 'empty', text: 'no chain status' }));
        }
        L.clear(box).appendChild(L.table('audit-list', ['Seq', 'Time', 'Actor', 'Action', 'Subject', 'Detail'], d.entries.map(function (e) {
          return el('tr', { 'data-seq': e.seq }, el('td', { class: 'num', text: e.seq }), el('td', { text: L.when(e.time) }),
            el('td', { text: e.actor }), el('td', { text: typeof e.action === 'object' ? JSON.stringify(e.action) : e.action }),
            el('td', { class: 'mono wrap', text: e.subject }),
            el('td', { class: 'wrap' }, e.detail !== null && typeof e.detail === 'object' ? L.show(e.detail) : e.detail || '-'));
        }), 'no entries'));
        L.clear(pager);
        var first = el('button', { type: 'button', text: 'First', disabled: auditPages.length < 2 });
        first.addEventListener('click', function () { auditPages = [0]; load(); });
        var prev = el('button', { type: 'button', text: 'Previous', disabled: auditPages.length < 2 });
        prev.addEventListener('click', function () { auditPages.pop(); load(); });
        var next = el('button', { type: 'button', text: 'Next', disabled: d.next_after === null || d.next_after === undefined });
        next.addEventListener('click', function () { auditPages.push(d.next_after); load(); });
        pager.appendChild(first); pager.appendChild(prev);
        pager.appendChild(el('span', { class: 'muted', text: 'entries after #' + after }));
        pager.appendChild(next);
      });
    }
    return load();
  });

  /* --- login ----------------------------------------------------------------- */

  L.view('login', function (ctx) {
    var msg = el('div', { 'aria-live': 'polite' });
    var user = el('input', { type: 'text', id: 'login-user', name: 'user', autocomplete: 'username', required: true });
    var password = el('input', { type: 'password', id: 'login-password', name: 'password', autocomplete: 'current-password', required: true });
    var submit = el('button', { type: 'submit', id: 'login-submit', class: 'primary', text: 'Log in' });
    var form = el('form', { id: 'login-form' }, el('label', null, 'User', user), el('label', null, 'Password', password), submit);
    var s = L.session;
    ctx.main.appendChild(el('section', { class: 'panel login' }, el('h1', { text: 'Log in' }),
      s.csrf ? el('p', { text: 'Logged in as ' + s.actor + ' (' + s.role + ').' })
        : s.actor ? el('p', { class: 'muted', text: 'Now: ' + s.actor + ' (' + s.role + ').' }) : null,
      form, msg));
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      submit.disabled = true;
      L.clear(msg);
      L.api('POST', '/login', { user: user.value, password: password.value }).then(function (r) {
        password.value = '';
        L.setSession(r);
        L.reconnect();
        location.hash = '#/';
      }, function (err) {
        submit.disabled = false;
        password.value = '';
        msg.appendChild(L.errorBox(err));
      });
    });
    user.focus();
  });
})();
