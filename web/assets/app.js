// odu web: the page. A thin client of odu web's streams: the board, a
// run's state and a node's log, each a Server-Sent Events stream that it
// opens again where it was when the connection drops.
'use strict';

const $ = (sel, el) => (el || document).querySelector(sel);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const enc = encodeURIComponent;

let look = { glyphs: {}, order: [] };

// ---- time --------------------------------------------------------------

function dur(ms) {
  if (ms < 0) ms = 0;
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm' + Math.round(s % 60) + 's';
  return Math.floor(s / 3600) + 'h' + Math.round((s % 3600) / 60) + 'm';
}

// clock is a node's clock as the dashboard's (internal/look's Expected):
// a running one's against its expectation, "12.0s/~30.0s".
function clock(n, now) {
  if (n.status === 'running' && n.started) return dur(now - Date.parse(n.started)) + (n.expected_ms > 0 ? '/~' + dur(n.expected_ms) : '');
  if (isTerminal(n.status) && n.started) return dur(n.duration_ms || 0);
  return '';
}

function ago(t) {
  const s = (Date.now() - Date.parse(t)) / 1000;
  if (s < 60) return 'just now';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return new Date(t).toLocaleDateString();
}

// notes are what the dashboard says of a node beside its status
// (internal/look's Notes).
function notes(n) {
  let s = '';
  if (n.slow) s += '  slow: expected ~' + dur(n.expected_ms);
  if (n.carried) s += '  carried over from ' + n.carried;
  return s;
}

const isTerminal = (s) => ['success', 'failure', 'error', 'skipped', 'cancelled'].includes(s);
const mark = (s) => `<span class="st-${esc(s)}">${esc(look.glyphs[s] || '?')}</span>`;

// ---- connection state --------------------------------------------------

const conns = new Map(); // stream name -> 'live' | 'reconnecting' | 'ended' | 'history' | 'error'

function setConn(name, st) {
  if (st === null) conns.delete(name); else conns.set(name, st);
  const all = [...conns.values()];
  let s = 'live', text = 'live';
  if (all.includes('error')) { s = 'error'; text = 'error'; }
  else if (all.includes('reconnecting')) { s = 'reconnecting'; text = 'reconnecting…'; }
  else if (conns.get('run') === 'ended') { s = 'ended'; text = 'run ended'; }
  else if (conns.get('run') === 'history') { s = 'history'; text = 'past run'; }
  else if (conns.get('board') === 'idle') { s = 'idle'; text = 'no run live'; }
  else if (all.length === 0) { s = ''; text = ''; }
  const el = $('#conn');
  el.className = 'conn ' + s;
  el.textContent = text;
}

// stream opens an EventSource and opens it again (with url() anew, which
// says where to resume) whenever it drops, backing off to 5 s.
function stream(name, url, handlers) {
  let es = null, timer = 0, wait = 250, closed = false;
  const open = () => {
    if (closed) return;
    es = new EventSource(url());
    es.onopen = () => { wait = 250; if (conns.get(name) === 'reconnecting') setConn(name, 'live'); };
    for (const [ev, fn] of Object.entries(handlers)) {
      es.addEventListener(ev, (e) => { wait = 250; fn(JSON.parse(e.data)); });
    }
    es.onerror = () => {
      es.close();
      if (closed) return;
      setConn(name, 'reconnecting');
      timer = setTimeout(open, wait);
      wait = Math.min(wait * 2, 5000);
    };
  };
  open();
  const stop = () => { closed = true; clearTimeout(timer); if (es) es.close(); };
  // stop ends the stream and keeps what it said of the connection; close
  // forgets that too.
  return { stop, close() { stop(); setConn(name, null); } };
}

// ---- routes ------------------------------------------------------------

let view = null; // the current view: {close()}

function route() {
  const h = location.hash.replace(/^#\/?/, '');
  const parts = h.split('/').map((p) => { try { return decodeURIComponent(p); } catch (e) { return p; } });
  if (parts[0] === 'run' && parts[1]) {
    // #/run/<ref>/<node>/<attempt>: an earlier attempt of a node.
    const attempt = parseInt(parts[3], 10) > 0 ? parseInt(parts[3], 10) : 0;
    if (view && view.kind === 'run' && view.ref === parts[1]) { view.select(parts[2] || '', false, attempt); return; }
    if (view) view.close();
    view = runView(parts[1], parts[2] || '', attempt);
    return;
  }
  if (view && view.kind === 'board') return;
  if (view) view.close();
  view = boardView();
}

function crumbs(items) {
  $('#crumbs').innerHTML = items.map((i) => (i.href ? `<a href="${esc(i.href)}">${esc(i.text)}</a>` : `<span>${esc(i.text)}</span>`)).join('<span class="sep">/</span>');
}

function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

function confirmDo(text, yes) {
  return new Promise((resolve) => {
    const d = $('#confirm');
    $('#confirm-text').textContent = text;
    $('#confirm-yes').textContent = yes;
    const done = (ok) => { d.close(); $('#confirm-yes').onclick = $('#confirm-no').onclick = null; resolve(ok); };
    $('#confirm-yes').onclick = () => done(true);
    $('#confirm-no').onclick = () => done(false);
    d.oncancel = () => resolve(false);
    d.showModal();
    $('#confirm-no').focus();
  });
}

async function post(path, body) {
  const r = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(text.trim() || r.statusText);
  return JSON.parse(text);
}

// ---- board -------------------------------------------------------------

function boardView() {
  crumbs([{ text: 'runs' }]);
  const main = $('#main');
  main.innerHTML = '<section class="board"><h1>Runs of this checkout</h1><div id="runs" class="empty">Loading…</div></section>';
  const s = stream('board', () => '/api/board', {
    runs(list) {
      // runstate's entries: verdict live, passed, failed, cancelled or
      // unfinished (killed), drawn with the status that says it.
      const glyph = { live: 'running', passed: 'success', failed: 'failure', cancelled: 'cancelled', unfinished: 'error' };
      setConn('board', (list || []).some((r) => r.verdict === 'live') ? 'live' : 'idle');
      const el = $('#runs');
      if (!list || list.length === 0) { el.className = 'empty'; el.textContent = 'No run yet: start one with `odu run`.'; return; }
      el.className = '';
      el.innerHTML = '<table class="runs"><thead><tr><th></th><th>run</th><th class="wide">branch</th><th>started</th><th>took</th><th>nodes</th><th class="wide">not ok</th></tr></thead><tbody>' +
        list.map((r) => {
          const live = r.verdict === 'live', bad = r.not_ok || [];
          const counts = look.order.filter((s) => r.counts[s]).map((s) => `<span>${mark(s)} ${r.counts[s]}</span>`).join('');
          const took = live ? dur(Date.now() - Date.parse(r.started)) : r.duration_ms ? dur(r.duration_ms) : '';
          const owed = r.github_owed ? ` <span class="dim" title="commit statuses GitHub does not have yet">${r.github_owed} owed to GitHub</span>` : '';
          return `<tr data-ref="${esc(r.ref)}" data-verdict="${esc(r.verdict)}"><td>${mark(glyph[r.verdict] || 'error')}</td><td><a class="mono" href="#/run/${enc(r.ref)}">${esc(r.ref)}</a> <span class="verdict st-${esc(glyph[r.verdict] || 'error')}">${esc(r.verdict)}</span></td>` +
            `<td class="wide">${esc(r.branch || '')}</td><td>${esc(ago(r.started))}</td><td>${esc(took)}</td><td class="counts">${counts}${owed}</td>` +
            `<td class="wide failing">${bad.slice(0, 4).map((f) => `<a href="#/run/${enc(r.ref)}/${enc(f)}">${esc(f)}</a>`).join(' ')}${bad.length > 4 ? ' …' : ''}</td></tr>`;
        }).join('') + '</tbody></table>';
    },
    failed(e) { s.stop(); setConn('board', 'error'); toast(e.error); },
  });
  return { kind: 'board', close() { s.close(); } };
}

// ---- run ---------------------------------------------------------------

function runView(ref, node, attempt) {
  const v = { kind: 'run', ref, node: '', attempt: 0, run: null, live: false, cells: new Map(), log: null };
  const main = $('#main');
  main.innerHTML = '<section class="run nolog"><div class="runhead" id="runhead"></div><div class="lanes" id="lanes"></div>' +
    '<div class="matrix-wrap" id="matrix"><div class="empty">Waiting for the run…</div></div><div id="logslot"></div></section>';

  const shownRef = () => (v.run ? v.run.ref : ref);
  const header = () => {
    if (!v.run) return;
    const r = v.run.state.run, now = Date.now();
    const ended = r.ended ? Date.parse(r.ended) : now;
    const nodes = v.run.state.nodes || [];
    const counts = {};
    for (const n of nodes) counts[n.status] = (counts[n.status] || 0) + 1;
    const verdict = v.live ? 'running' : r.cancelled ? 'cancelled' : nodes.every((n) => n.status === 'success') ? 'success' : 'failure';
    $('#runhead').innerHTML = `<span class="verdict st-${verdict}">${mark(verdict)} ${esc(verdict)}</span>` +
      `<span class="mono" title="${esc(r.sha)}">${esc(r.sha.slice(0, 12))}</span>` +
      (r.branch ? `<span>${esc(r.branch)}</span>` : '') +
      `<span class="dim">${r.ended ? 'took' : 'elapsed'} <span class="mono" id="elapsed">${esc(dur(ended - Date.parse(r.started)))}</span></span>` +
      (v.live && v.eta ? `<span class="mono eta" id="eta">${esc(v.eta)}</span>` : '') +
      (r.rerun_of ? `<span class="dim rerunof">rerun of <a class="mono" href="#/run/${enc(r.rerun_of)}">${esc(r.rerun_of)}</a> (↺ carried over)</span>` : '') +
      (r.superseded ? `<span class="dim">superseded by ${esc(r.superseded)}</span>` : '') +
      `<span class="counts">${look.order.filter((s) => counts[s]).map((s) => `<span>${mark(s)} ${counts[s]}</span>`).join('')}</span>` +
      `<span class="actions">${v.live ? '<button type="button" id="cancelrun" class="danger">Cancel run</button>' : ''}</span>`;
    const c = $('#cancelrun');
    if (c) c.onclick = async () => {
      if (!(await confirmDo('Cancel the whole run? Every node still pending or running stops.', 'Cancel run'))) return;
      try { await post('/api/cancel', { ref: shownRef() }); toast('The run is being cancelled.'); } catch (e) { toast(e.message); }
    };
    crumbs([{ text: 'runs', href: '#/' }, { text: shownRef(), href: '#/run/' + enc(ref) }].concat(v.node ? [{ text: v.node }] : []));
  };
  const lanes = () => {
    const ls = (v.run && v.run.state.lanes) || [];
    $('#lanes').innerHTML = ls.map((l) => `<span class="${esc(l.phase.split(' ')[0])}" title="${esc(l.error || '')}">${esc(l.platform)}: ${esc(l.host)} · ${esc(l.phase)}${l.error ? ' — ' + esc(l.error) : ''}</span>`).join('');
  };
  // A cell: the dashboard's glyph and clock, ! on a node running slow,
  // ↺ on one carried over from an earlier run.
  const cell = (n) => `<button type="button" class="node st-${esc(n.status)}${n.id === v.node ? ' sel' : ''}${n.slow ? ' slow' : ''}${n.carried ? ' carried' : ''}" data-id="${esc(n.id)}" title="${esc(n.id + ': ' + n.status + notes(n) + (n.reason ? ' — ' + n.reason : ''))}">` +
    `<span>${esc(look.glyphs[n.status] || '?')}</span><span class="clock">${esc(clock(n, Date.now()))}</span>${n.slow ? '<span class="slowmark">!</span>' : ''}${n.carried ? '<span class="carry" aria-label="carried over">↺</span>' : ''}</button>`;
  const matrix = () => {
    const st = v.run.state, nodes = st.nodes || [];
    const plats = [];
    for (const p of st.run.platforms || []) if (!plats.includes(p)) plats.push(p);
    for (const n of nodes) if (!plats.includes(n.platform)) plats.push(n.platform);
    const rows = new Map();
    for (const n of nodes) { if (!rows.has(n.name)) rows.set(n.name, new Map()); rows.get(n.name).set(n.platform, n); }
    let h = '<table class="matrix"><thead><tr><th>recipe</th>' + plats.map((p) => `<th>${esc(p)}</th>`).join('') + '</tr></thead><tbody>';
    for (const [name, byPlat] of rows) {
      h += `<tr><th>${esc(name)}</th>` + plats.map((p) => (byPlat.has(p) ? `<td>${cell(byPlat.get(p))}</td>` : '<td></td>')).join('') + '</tr>';
    }
    $('#matrix').innerHTML = h + '</tbody></table>';
    v.cells.clear();
    for (const b of $('#matrix').querySelectorAll('button.node')) v.cells.set(b.dataset.id, b);
  };
  $('#matrix').addEventListener('click', (e) => {
    const b = e.target.closest('button.node');
    if (b) location.hash = '#/run/' + enc(ref) + '/' + enc(b.dataset.id);
  });
  const nodeOf = (id) => (v.run ? (v.run.state.nodes || []).find((n) => n.id === id) : null);
  const updated = (n) => {
    const b = v.cells.get(n.id);
    if (b) b.outerHTML = cell(n);
    const nb = $(`#matrix button.node[data-id="${CSS.escape(n.id)}"]`);
    if (nb) v.cells.set(n.id, nb);
    if (v.log && v.log.id === n.id) v.log.node(n, v.live);
  };

  const s = stream('run', () => '/api/run?ref=' + enc(ref), {
    state(m) {
      v.eta = m.eta || '';
      const newRun = v.run && v.run.ref !== m.ref;
      if (newRun || !v.run) v.wasLive = false;
      v.wasLive = v.wasLive || m.live;
      v.run = m; v.live = m.live;
      setConn('run', m.live ? 'live' : v.wasLive ? 'ended' : 'history');
      header(); lanes(); matrix();
      if (newRun && v.log) { v.log.close(); v.log = null; }
      v.select(v.node || node, true, v.node ? v.attempt : attempt);
    },
    delta(d) {
      const st = v.run.state;
      st.seq = d.seq;
      if (d.run) st.run = d.run;
      if (d.lane) { const i = st.lanes.findIndex((l) => l.platform === d.lane.platform); if (i >= 0) st.lanes[i] = d.lane; else st.lanes.push(d.lane); lanes(); }
      if (d.node) {
        const i = st.nodes.findIndex((n) => n.id === d.node.id);
        if (i >= 0) st.nodes[i] = d.node; else { st.nodes.push(d.node); matrix(); }
        updated(d.node);
      }
      header();
    },
    eta(m) {
      v.eta = m.eta;
      const el = $('#eta');
      if (el && v.eta) el.textContent = v.eta; else header();
    },
    ended() {
      v.live = false;
      if (v.run) setConn('run', v.wasLive ? 'ended' : 'history');
      // A past run says no more; the live one goes on with the next run.
      if (ref !== 'live') s.stop();
      header();
      if (v.log) { const n = nodeOf(v.log.id); if (n) v.log.node(n, false); }
    },
    failed(e) { s.stop(); setConn('run', 'error'); $('#matrix').innerHTML = `<div class="empty">${esc(e.error)}</div>`; },
  });

  const tick = setInterval(() => {
    if (!v.run) return;
    const el = $('#elapsed');
    if (el && !v.run.state.run.ended) el.textContent = dur(Date.now() - Date.parse(v.run.state.run.started));
    for (const n of v.run.state.nodes || []) {
      if (n.status !== 'running') continue;
      const b = v.cells.get(n.id);
      const c = b && b.querySelector('.clock');
      if (c) c.textContent = clock(n, Date.now());
    }
  }, 1000);

  v.select = (id, force, k) => {
    k = k || 0;
    if (id === v.node && k === v.attempt && !force && (v.log || !id)) return;
    if (v.log && (v.log.id !== id || v.log.pinned !== k || (v.run && v.log.ref !== v.run.ref))) { v.log.close(); v.log = null; }
    v.node = id;
    v.attempt = k;
    for (const [nid, b] of v.cells) b.classList.toggle('sel', nid === id);
    $('.run').classList.toggle('nolog', !id);
    header();
    if (!id || !v.run) return;
    const n = nodeOf(id);
    if (!n) { $('#logslot').innerHTML = `<div class="empty">Run ${esc(shownRef())} has no node ${esc(id)}.</div>`; return; }
    if (!v.log) v.log = logPane($('#logslot'), v.run.ref, n, v.live, k);
  };
  v.close = () => { s.close(); clearInterval(tick); if (v.log) v.log.close(); };
  return v;
}

// ---- log ---------------------------------------------------------------

// logPane shows a node's log: its newest attempt, followed into the next
// one when it is rerun; or, pinned, an earlier attempt k.
function logPane(slot, ref, node, live, k) {
  const p = { id: node.id, ref, a: k || 0, pinned: k || 0, o: 0, lines: [], texts: [], hit: -1, follow: true, es: null, ended: false };
  slot.className = 'logpane';
  slot.innerHTML = '<div class="logbar"><span class="title"></span><span class="status"></span><span class="attempts"></span><span class="grow"></span>' +
    '<input type="search" placeholder="Search (/)" aria-label="Search the log" class="q"><span class="hits"></span>' +
    '<button type="button" class="rerun">Rerun</button><button type="button" class="cancel danger">Cancel</button>' +
    '<a class="rawlink" target="_blank" rel="noopener">raw</a></div><div class="reason" hidden></div>' +
    '<div class="logwrap"><div class="log" tabindex="0" aria-label="Log"><div class="spacer"></div><div class="win"></div></div>' +
    '<button type="button" class="follow" hidden>Follow ↓</button></div>';
  const el = $('.log', slot), spacer = $('.spacer', slot), win = $('.win', slot), followBtn = $('.follow', slot);
  $('.title', slot).textContent = node.id;
  let lh = 18;
  const measure = () => { lh = parseFloat(getComputedStyle(el).lineHeight) || 18; };
  measure();

  // Virtual list: only the lines near the viewport are in the DOM.
  let raf = 0, drawn = [-1, -1], dirty = true;
  const paint = () => {
    raf = 0;
    const n = p.lines.length;
    spacer.style.height = (n * lh) + 'px';
    if (p.follow) el.scrollTop = el.scrollHeight;
    const first = Math.max(0, Math.floor(el.scrollTop / lh) - 40);
    const last = Math.min(n, Math.ceil((el.scrollTop + el.clientHeight) / lh) + 40);
    if (!dirty && drawn[0] === first && drawn[1] === last) return;
    dirty = false;
    drawn = [first, last];
    let h = '';
    for (let i = first; i < last; i++) h += `<div class="ln${i === p.hit ? ' hit' : ''}" data-n="${i}"><span class="no">${i + 1}</span>${p.lines[i] || ''}</div>`;
    win.style.transform = `translateY(${first * lh}px)`;
    win.innerHTML = h;
    if (n === 0) win.innerHTML = `<div class="logempty">${p.ended ? '(no output)' : 'Waiting for output…'}</div>`;
  };
  const schedule = () => { if (!raf) raf = requestAnimationFrame(paint); };
  const setFollow = (f) => { p.follow = f; followBtn.hidden = f; if (f) schedule(); };
  el.addEventListener('scroll', () => {
    const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - lh;
    if (p.follow !== atEnd) setFollow(atEnd);
    schedule();
  });
  el.addEventListener('wheel', (e) => { if (e.deltaY < 0) setFollow(false); }, { passive: true });
  el.addEventListener('keydown', (e) => {
    if (['ArrowUp', 'PageUp', 'Home'].includes(e.key)) setFollow(false);
    if (e.key === 'End') setFollow(true);
  });
  followBtn.onclick = () => { setFollow(true); el.focus(); };
  const onResize = () => { measure(); dirty = true; schedule(); };
  window.addEventListener('resize', onResize);

  const apply = (d) => {
    if (p.lines.length > d.n) { p.lines.length = d.n; p.texts.length = Math.min(p.texts.length, d.n); }
    while (p.lines.length < d.n) p.lines.push('');
    const [first, last] = drawn;
    for (const [i, h] of d.l) {
      p.lines[i] = h;
      p.texts[i] = undefined;
      if (i >= first && i < last) dirty = true;
    }
    if (d.n < last || drawn[1] < Math.min(d.n, drawn[0] + 200)) dirty = true;
    p.a = d.a; p.o = d.o;
    el.dataset.offset = d.o; // how far into the log's bytes the page is
    schedule();
  };
  const clear = (a) => { p.lines = []; p.texts = []; p.a = a; p.o = 0; p.hit = -1; dirty = true; schedule(); };

  const connect = () => {
    p.ended = false;
    p.es = stream('log', () => `/api/log?ref=${enc(p.ref)}&node=${enc(p.id)}&attempt=${p.a}&from=${p.o}`, {
      lines(d) { apply(d); },
      reset(d) { clear(d.a); },
      end(d) { p.ended = true; p.a = d.a; p.es.close(); dirty = true; schedule(); },
      failed(e) { p.es.close(); p.ended = true; toast(e.error); },
    });
  };
  connect();

  // Search: the next line (after the one found last) whose text has it.
  const q = $('.q', slot), hits = $('.hits', slot);
  const text = (i) => {
    if (p.texts[i] === undefined) {
      p.texts[i] = (p.lines[i] || '').replace(/<[^>]*>/g, '')
        .replace(/&(amp|lt|gt|#34|#39);/g, (m) => ({ '&amp;': '&', '&lt;': '<', '&gt;': '>', '&#34;': '"', '&#39;': "'" }[m])).toLowerCase();
    }
    return p.texts[i];
  };
  const find = (dir) => {
    const s = q.value.toLowerCase();
    if (!s) { p.hit = -1; hits.textContent = ''; dirty = true; schedule(); return; }
    const n = p.lines.length;
    for (let k = 1; k <= n; k++) {
      const i = ((p.hit < 0 ? (dir > 0 ? -1 : n) : p.hit) + dir * k + n * 2) % n;
      if (text(i).includes(s)) {
        p.hit = i;
        hits.textContent = 'line ' + (i + 1);
        setFollow(false);
        el.scrollTop = Math.max(0, i * lh - el.clientHeight / 3);
        dirty = true; schedule();
        return;
      }
    }
    p.hit = -1; hits.textContent = 'not found'; dirty = true; schedule();
  };
  q.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); find(e.shiftKey ? -1 : 1); }
    if (e.key === 'Escape') { q.value = ''; find(1); el.focus(); }
  });
  q.addEventListener('input', () => { p.hit = -1; hits.textContent = ''; });

  const rerun = $('.rerun', slot), cancel = $('.cancel', slot);
  rerun.onclick = async () => {
    if (!(await confirmDo(`Rerun ${p.id}? It and what depends on it on its platform run again.`, 'Rerun'))) return;
    try { const r = await post('/api/rerun', { ref: p.ref, node: p.id }); toast(r.joined ? 'Already being rerun.' : 'Rerunning ' + (r.reset || [p.id]).join(', ')); } catch (e) { toast(e.message); }
  };
  cancel.onclick = async () => {
    if (!(await confirmDo(`Cancel ${p.id}?`, 'Cancel node'))) return;
    try { await post('/api/cancel', { ref: p.ref, node: p.id }); toast('Cancelled ' + p.id); } catch (e) { toast(e.message); }
  };
  $('.rawlink', slot).href = `/api/raw?ref=${enc(ref)}&node=${enc(node.id)}` + (p.pinned ? `&attempt=${p.pinned}` : '');

  p.node = (n, isLive) => {
    $('.status', slot).innerHTML = `${mark(n.status)} <span class="st-${esc(n.status)}">${esc(n.status)}</span>` +
      (n.exit_code != null && n.status === 'failure' ? ` <span class="dim">exit ${n.exit_code}</span>` : '');
    const reason = $('.reason', slot);
    reason.hidden = !n.reason && !n.carried && !n.slow;
    reason.innerHTML = [n.carried ? `<span class="carriednote">↺ carried over from <a class="mono carriedfrom" href="#/run/${enc(n.carried)}/${enc(n.id)}">${esc(n.carried)}</a></span>` : '',
      n.slow ? `<span class="st-failure">slow: expected ~${esc(dur(n.expected_ms))}</span>` : '', esc(n.reason || '')].filter((x) => x).join(' · ');
    // The attempts: the one shown is text, the others links (the newest
    // without a number: it is followed into the next).
    const at = $('.attempts', slot);
    at.hidden = !(n.attempt > 1);
    if (n.attempt > 1) {
      const shown = p.pinned || n.attempt;
      const base = '#/run/' + enc(p.ref) + '/' + enc(p.id);
      let h = '<span class="dim">attempt</span>';
      for (let i = 1; i <= n.attempt; i++) {
        h += i === shown ? ` <b aria-current="true">${i}</b>` : ` <a href="${esc(i === n.attempt ? base : base + '/' + i)}" data-attempt="${i}">${i}</a>`;
      }
      at.innerHTML = h;
    }
    rerun.disabled = !isLive;
    cancel.disabled = !isLive || isTerminal(n.status);
    // A rerun started a new attempt after this one's log ended: follow it.
    if (p.ended && !p.pinned && n.attempt > p.a && isLive) { clear(n.attempt); connect(); }
  };
  p.node(node, live);

  // '/' focuses the search. The key's character must not land in it: a
  // browser drops it with the keydown's default, but a keypress that
  // comes on its own (as from an automation tool) would not be.
  let slash = false;
  const onKey = (e) => {
    if (e.target.tagName === 'INPUT') return;
    if (e.key === '/') { e.preventDefault(); slash = true; q.focus(); }
  };
  q.addEventListener('keypress', (e) => { if (slash && e.key === '/') e.preventDefault(); slash = false; });
  q.addEventListener('keyup', () => { slash = false; });
  document.addEventListener('keydown', onKey);
  p.close = () => {
    if (p.es) p.es.close();
    window.removeEventListener('resize', onResize);
    document.removeEventListener('keydown', onKey);
    slot.className = ''; slot.innerHTML = '';
  };
  return p;
}

// ---- start -------------------------------------------------------------

document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && e.target.tagName !== 'INPUT' && view && view.kind === 'run' && view.node) location.hash = '#/run/' + enc(view.ref);
});

fetch('/api/look').then((r) => r.json()).then((l) => { look = l; }).catch(() => {}).finally(() => {
  window.addEventListener('hashchange', route);
  route();
});
