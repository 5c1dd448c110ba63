/* levee's page, core: the API client (session cookie + CSRF header), the session,
   DOM helpers that only ever set text (never HTML), formatters, the hash router, the
   live event stream (EventSource with backoff) and the theme toggle. The views are in
   overview.js, incidents.js and views.js and register themselves with Levee.view(name, render).
   Hooks for browser tests: body[data-view] (the view's name: overview, incidents,
   incident, mitigations, peers, exporters, audit, login) and body[data-ready="1"] once
   its data has loaded; #session-user and #session-role. */
(function () {
  'use strict';

  var ROLES = ['viewer', 'analyst', 'operator', 'admin'];
  var session = { actor: null, role: null, csrf: null };

  /* --- DOM ------------------------------------------------------------------- */

  /* el('tr', {class: 'x', 'data-id': 3}, child, 'text', [more]) */
  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) { return; }
        if (k === 'text') { e.textContent = String(v); }
        else if (k.slice(0, 2) === 'on' && typeof v === 'function') { e.addEventListener(k.slice(2), v); }
        else if (k === 'value') { e.value = v; }
        else { e.setAttribute(k, v === true ? '' : String(v)); }
      });
    }
    for (var i = 2; i < arguments.length; i++) { append(e, arguments[i]); }
    return e;
  }

  function append(e, c) {
    if (c === null || c === undefined || c === false) { return; }
    if (Array.isArray(c)) { c.forEach(function (x) { append(e, x); }); return; }
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }

  function clear(e) { while (e.firstChild) { e.removeChild(e.firstChild); } return e; }

  function $(id) { return document.getElementById(id); }

  /* A table with `id`: head = ['Name', {text: 'pps', class: 'num'}], rows = [tr, ...];
     with no rows, one row saying `empty`. */
  function table(id, head, rows, empty) {
    if (!rows.length) {
      rows = [el('tr', null, el('td', { class: 'empty', colspan: head.length, text: empty || 'none' }))];
    }
    return el('div', { class: 'scroll' }, el('table', { id: id || null },
      el('thead', null, el('tr', null, head.map(function (h) {
        return typeof h === 'string' ? el('th', { text: h }) : el('th', h);
      }))),
      el('tbody', null, rows)));
  }

  function errorBox(e) {
    return el('div', { class: 'error', role: 'alert', text: message(e) });
  }

  function message(e) {
    if (!e) { return 'error'; }
    if (e.code && e.message) { return e.message + ' (' + e.code + ')'; }
    return e.message || String(e);
  }

  /* --- formatting ------------------------------------------------------------ */

  function si(v, unit) { return window.LeveeChart ? LeveeChart.si(Number(v) || 0, unit) : String(v); }

  function pad(n) { return n < 10 ? '0' + n : '' + n; }

  /* Unix seconds, microseconds (> 1e14) or RFC 3339 text, as Unix seconds. */
  function seconds(t) {
    if (t === null || t === undefined || t === '') { return null; }
    if (typeof t === 'number') { return t > 1e14 ? t / 1e6 : t > 1e11 ? t / 1e3 : t; }
    var n = Number(t);
    if (isFinite(n)) { return seconds(n); }
    var ms = Date.parse(t);
    return isFinite(ms) ? ms / 1000 : null;
  }

  function when(t) {
    var s = seconds(t);
    if (s === null) { return '-'; }
    var d = new Date(s * 1000);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function duration(s) {
    if (s === null || !isFinite(s)) { return '-'; }
    s = Math.max(0, Math.floor(s));
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d) { return d + 'd ' + h + 'h'; }
    if (h) { return h + 'h ' + pad(m) + 'm'; }
    return m + 'm ' + pad(s % 60) + 's';
  }

  function now() { return Date.now() / 1000; }

  /* --- any JSON value, shown generically ------------------------------------ */

  function label(k) { return String(k).replace(/_/g, ' '); }

  function scalar(v) {
    if (v === null || v === undefined) { return '-'; }
    if (typeof v === 'number') { return Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/\.?0+$/, ''); }
    return String(v);
  }

  /* A value as DOM: scalars as text, arrays of objects as a table (the union of their
     keys), other arrays as a list, objects as a definition list. */
  function show(v, depth) {
    depth = depth || 0;
    if (v === null || typeof v !== 'object') { return document.createTextNode(scalar(v)); }
    if (depth > 4) { return el('code', { text: JSON.stringify(v) }); }
    if (Array.isArray(v)) {
      if (!v.length) { return el('span', { class: 'muted', text: 'none' }); }
      if (v.every(function (x) { return x !== null && typeof x === 'object' && !Array.isArray(x); })) {
        var keys = [];
        v.forEach(function (x) { Object.keys(x).forEach(function (k) { if (keys.indexOf(k) < 0) { keys.push(k); } }); });
        return el('div', { class: 'scroll' }, el('table', null,
          el('thead', null, el('tr', null, keys.map(function (k) { return el('th', { text: label(k) }); }))),
          el('tbody', null, v.map(function (x) {
            return el('tr', null, keys.map(function (k) {
              var c = x[k];
              return el('td', { class: typeof c === 'number' ? 'num' : null }, show(c, depth + 1));
            }));
          }))));
      }
      if (v.every(function (x) { return x === null || typeof x !== 'object'; })) {
        return document.createTextNode(v.map(scalar).join(', '));
      }
      return el('ul', { class: 'plain' }, v.map(function (x) { return el('li', null, show(x, depth + 1)); }));
    }
    var keys2 = Object.keys(v);
    if (!keys2.length) { return el('span', { class: 'muted', text: 'none' }); }
    return el('dl', { class: 'kv' }, keys2.map(function (k) {
      return [el('dt', { text: label(k) }), el('dd', null, show(v[k], depth + 1))];
    }));
  }

  /* --- API ------------------------------------------------------------------- */

  function ApiError(status, code, msg) {
    this.status = status; this.code = code; this.message = msg;
  }

  /* fetch /api/v1 + path; JSON in and out; a non-2xx answer rejects with ApiError. */
  function api(method, path, body) {
    var headers = { Accept: 'application/json' };
    var init = { method: method, headers: headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (method !== 'GET' && method !== 'HEAD' && session.csrf) { headers['X-CSRF-Token'] = session.csrf; }
    return fetch('/api/v1' + path, init).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!r.ok) {
          var err = new ApiError(r.status, data && data.code || 'http_' + r.status,
            data && data.message || r.statusText || 'request failed');
          if (r.status === 401 && data && (data.code === 'session_expired' || data.code === 'unauthenticated')) {
            setSession({ actor: null, role: null, csrf: null });
            if (route().name !== 'login') { location.hash = '#/login'; }
          }
          throw err;
        }
        return data;
      });
    }, function (e) {
      throw new ApiError(0, 'network', 'levee did not answer (' + (e && e.message || 'network error') + ')');
    });
  }

  function query(params) {
    var q = Object.keys(params).filter(function (k) {
      return params[k] !== null && params[k] !== undefined && params[k] !== '';
    }).map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]); });
    return q.length ? '?' + q.join('&') : '';
  }

  /* --- session --------------------------------------------------------------- */

  function setSession(s) {
    session.actor = s.actor || null;
    session.role = s.role || null;
    session.csrf = s.csrf || null;
    $('session-user').textContent = session.actor || 'not logged in';
    $('session-role').textContent = session.role || '-';
    $('logout').hidden = !session.csrf;
    $('login-link').hidden = !!session.csrf;
  }

  function can(role) {
    return ROLES.indexOf(session.role) >= ROLES.indexOf(role) && session.role !== null;
  }

  function loadSession() {
    return api('GET', '/session').then(setSession, function (e) {
      setSession({});
      if (e.status === 401) { location.hash = '#/login'; }
    });
  }

  function logout() {
    api('POST', '/logout').then(null, function () { return null; }).then(function () {
      setSession({});
      return loadSession();
    }).then(function () { location.hash = '#/login'; render(); });
  }

  /* --- live events ----------------------------------------------------------- */

  var listeners = {};   /* event name -> [fn] (kept across views) */
  var viewListeners = {}; /* event name -> [fn] (dropped when the view changes) */
  var stream = null, backoff = 1000, retryTimer = null;

  function on(name, fn, global) {
    var set = global ? listeners : viewListeners;
    (set[name] = set[name] || []).push(fn);
  }

  function emit(name, data) {
    (listeners[name] || []).concat(viewListeners[name] || []).forEach(function (fn) {
      try { fn(data); } catch (e) { if (window.console) { console.error(e); } }
    });
  }

  function live(state) {
    var l = $('live');
    l.textContent = state ? 'live' : 'offline';
    l.className = 'live ' + (state ? 'on' : 'off');
  }

  function connect() {
    if (!window.EventSource) { return; }
    retryTimer = null;
    var es = new EventSource('/api/v1/events', { withCredentials: true });
    stream = es;
    es.onopen = function () { backoff = 1000; live(true); };
    es.onerror = function () {
      /* Closed, refused or not there (yet): back off and try again. */
      es.close();
      if (stream !== es) { return; }
      stream = null;
      live(false);
      retryTimer = setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
    ['traffic', 'incident', 'mitigation', 'lagged'].forEach(function (name) {
      es.addEventListener(name, function (ev) {
        var data = null;
        try { data = JSON.parse(ev.data); } catch (e) { return; }
        if (data !== null && typeof data === 'object') { emit(name, data); }
      });
    });
  }

  function reconnect() {
    if (stream) { stream.close(); stream = null; }
    if (retryTimer) { clearTimeout(retryTimer); }
    backoff = 1000;
    connect();
  }

  /* --- router ---------------------------------------------------------------- */

  var views = {};
  var timers = [];
  var generation = 0;

  function view(name, fn) { views[name] = fn; }

  function route() {
    var parts = (location.hash || '#/').replace(/^#\/?/, '').split('/');
    var name = parts[0] || 'overview';
    return { name: name, arg: parts[1] ? decodeURIComponent(parts[1]) : null };
  }

  /* Timers that live as long as the current view. */
  function every(ms, fn) { timers.push(setInterval(fn, ms)); }

  function render() {
    timers.forEach(clearInterval);
    timers = [];
    viewListeners = {};
    var r = route(), gen = ++generation;
    var fn = views[r.name];
    var main = clear($('main'));
    var name = fn ? r.name : 'notfound';
    document.body.setAttribute('data-view', r.name === 'incidents' && r.arg ? 'incident' : name);
    document.body.setAttribute('data-ready', '0');
    Array.prototype.forEach.call(document.querySelectorAll('#nav a'), function (a) {
      a.classList.toggle('active', a.getAttribute('data-nav') === r.name);
    });
    var ctx = {
      main: main,
      arg: r.arg,
      /* Whether this view is still shown (its fetches may outlive it). */
      current: function () { return gen === generation; },
      ready: function () { if (gen === generation) { document.body.setAttribute('data-ready', '1'); } }
    };
    if (!fn) {
      main.appendChild(el('p', { class: 'empty', text: 'No such page.' }));
      ctx.ready();
      return;
    }
    var p;
    try { p = fn(ctx); } catch (e) { main.appendChild(errorBox(e)); ctx.ready(); return; }
    Promise.resolve(p).then(null, function (e) {
      if (ctx.current()) { main.appendChild(errorBox(e)); }
    }).then(ctx.ready);
  }

  /* --- theme ----------------------------------------------------------------- */

  function dark() {
    var t = document.documentElement.getAttribute('data-theme');
    if (t) { return t === 'dark'; }
    return !!(window.matchMedia && matchMedia('(prefers-color-scheme: dark)').matches);
  }

  function applyTheme(t) {
    if (t === 'dark' || t === 'light') { document.documentElement.setAttribute('data-theme', t); }
    else { document.documentElement.removeAttribute('data-theme'); }
    var b = $('theme-toggle');
    if (b) { b.textContent = dark() ? 'Light' : 'Dark'; }
    emit('theme', {});
  }

  function storedTheme() { try { return localStorage.getItem('levee-theme'); } catch (e) { return null; } }

  applyTheme(storedTheme());

  function start() {
    applyTheme(storedTheme());
    $('theme-toggle').addEventListener('click', function () {
      var t = dark() ? 'light' : 'dark';
      try { localStorage.setItem('levee-theme', t); } catch (e) { /* private mode: this page only */ }
      applyTheme(t);
    });
    if (window.matchMedia) {
      var mq = matchMedia('(prefers-color-scheme: dark)');
      if (mq.addEventListener) { mq.addEventListener('change', function () { applyTheme(storedTheme()); }); }
    }
    $('logout').addEventListener('click', logout);
    window.addEventListener('hashchange', render);
    live(false);
    loadSession().then(function () { render(); connect(); });
  }

  window.Levee = {
    el: el, clear: clear, $: $, table: table, errorBox: errorBox, message: message,
    si: si, when: when, duration: duration, seconds: seconds, now: now,
    api: api, query: query, show: show, label: label, session: session, setSession: setSession, can: can,
    loadSession: loadSession, on: on, reconnect: reconnect, view: view, every: every,
    render: render, route: route
  };

  document.addEventListener('DOMContentLoaded', start);
})();
