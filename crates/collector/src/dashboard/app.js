// The logward dashboard: plain DOM, no framework, no CDN. Everything it shows comes from
// the REST API under /v1 with the session cookie; text goes in with textContent only.
'use strict';

const SEVERITY = ['', 'info', 'low', 'medium', 'high', 'critical'];
const POLL_MS = 3000;
let csrf = null;
let cursor = null;      // `next` of the last page shown
let pollTimer = null;

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c === null || c === undefined ? '' : c);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function fmtTime(t) {
  if (t === null || t === undefined) return '—';
  return new Date(t * 1000).toISOString().replace('T', ' ').replace('.000Z', 'Z');
}

function fmtAgo(s) {
  if (s === null || s === undefined) return '—';
  if (s < 90) return s + ' s ago';
  if (s < 5400) return Math.round(s / 60) + ' min ago';
  return Math.round(s / 3600) + ' h ago';
}

function status(text, isError) {
  const s = $('status');
  s.textContent = text || '';
  s.className = isError ? 'error' : 'muted';
}

async function api(path, options) {
  const r = await fetch(path, Object.assign({ credentials: 'same-origin' }, options || {}));
  if (r.status === 401) { location.href = '/login'; throw new Error('not logged in'); }
  if (r.status === 204) return null;
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

// ---- alerts -------------------------------------------------------------------------

function filterQuery() {
  const q = new URLSearchParams();
  const span = $('f-time').value;
  if (span) q.set('since', String(Math.floor(Date.now() / 1000) - Number(span)));
  for (const [id, name] of [['f-host', 'host'], ['f-severity', 'severity'], ['f-rule', 'rule'],
                            ['f-user', 'user'], ['f-address', 'address']]) {
    const v = $(id).value.trim();
    if (v) q.set(name, v);
  }
  return q;
}

// Who: the user, and for account and group changes the account acted on (`user.target.name`).
function userText(a) {
  if (!a.target_user || a.target_user === a.user) return a.user || '—';
  return a.user ? a.user + ' → ' + a.target_user : a.target_user;
}

// A Windows event in one line: channel and event id, logon type, workstation.
function windowsText(x) {
  if (!x.winlog) return '';
  return [(x.winlog.channel || '') + ' ' + (x.winlog.event_id || ''), x.logon_type,
          x.workstation ? 'from ' + x.workstation : null].filter(Boolean).join(' · ');
}

function alertRow(a) {
  const link = el('a', { href: '#/alert/' + a.id, class: 'alert-link', text: fmtTime(a.time) });
  return el('tr', { class: 'alert-row', 'data-id': String(a.id) },
    el('td', {}, link),
    el('td', { class: 'sev sev-' + a.severity, text: a.severity_name || String(a.severity) }),
    el('td', { text: a.rule_id }, a.winlog ? el('div', { class: 'win muted', text: windowsText(a) }) : ''),
    el('td', { text: a.host || '—', title: a.agent_id ? 'agent ' + a.agent_id : '' },
      a.agent_id ? el('span', { class: 'muted agent', text: ' · ' + a.agent_id.slice(0, 8) }) : ''),
    el('td', { class: 'addr', text: a.source_address || '—' }),
    el('td', { class: 'user', text: userText(a) }),
    el('td', { text: a.message || '' }));
}

async function loadAlerts(append) {
  const q = filterQuery();
  q.set('limit', '50');
  if (append && cursor) q.set('before', String(cursor));
  try {
    const page = await api('/v1/alerts?' + q.toString());
    const body = $('alerts-body');
    if (!append) body.replaceChildren();
    for (const a of page.alerts) body.append(alertRow(a));
    cursor = page.next;
    $('more').hidden = !page.next;
    $('alerts-count').textContent = body.children.length + ' shown';
    status('updated ' + new Date().toLocaleTimeString());
  } catch (e) { status(e.message, true); }
}

function startPolling() {
  stopPolling();
  // Live: the first page again every few seconds, unless older pages are open.
  pollTimer = setInterval(() => { if ($('alerts-body').children.length <= 50) loadAlerts(false); },
                          POLL_MS);
}

function stopPolling() { if (pollTimer) clearInterval(pollTimer); pollTimer = null; }

// ---- one alert ----------------------------------------------------------------------

function kv(pairs) {
  const dl = el('dl', { class: 'kv' });
  for (const [k, v] of pairs) dl.append(el('dt', { text: k }), el('dd', { text: v === null || v === undefined ? '—' : String(v) }));
  return dl;
}

// The event as it was read: a Windows event's XML or JSON, indented (when cheap) and cut to
// MAX_ORIGINAL characters; always text, never markup.
const MAX_ORIGINAL = 65536;

function prettyOriginal(s) {
  if (s.length > MAX_ORIGINAL) return s.slice(0, MAX_ORIGINAL) + '\n… (first ' + MAX_ORIGINAL + ' of ' + s.length + ' characters)';
  const t = s.trim();
  if (t.startsWith('{')) {
    try { return JSON.stringify(JSON.parse(t), null, 2); } catch (e) { return s; }
  }
  if (!t.startsWith('<')) return s;
  // One tag per line, indented by depth; text and attributes untouched.
  let depth = 0;
  const out = [];
  for (const line of t.replace(/>\s*</g, '>\n<').split('\n')) {
    const closing = line.startsWith('</');
    if (closing) depth = Math.max(0, depth - 1);
    out.push('  '.repeat(depth) + line);
    const opens = /^<[^/?!]/.test(line) && !/\/>$/.test(line) && !/<\//.test(line);
    if (opens) depth++;
  }
  return out.join('\n');
}

// A Windows event's record as it was read; when none is stored with it (an evtx source
// reads records without rendering their XML; the Beats input keeps a Winlogbeat document
// in the alerts it raises, not in every event), its winlog fields.
function originalBlock(x, id) {
  if (!x.original) {
    return el('details', { class: 'original', id: id },
      el('summary', { text: 'Event fields (winlog; the record itself is not stored with the event)' }),
      el('pre', { class: 'raw', text: prettyOriginal(JSON.stringify(x.winlog)) }));
  }
  const t = x.original.trim();
  const kind = t.startsWith('<') ? 'Event XML' : t.startsWith('{') ? 'Event JSON' : 'Event';
  return el('details', { class: 'original', id: id },
    el('summary', { text: kind + ' (' + x.original.length + ' characters)' }),
    el('pre', { class: 'raw', text: prettyOriginal(x.original) }));
}

async function showAlert(id) {
  const box = $('alert-detail');
  box.replaceChildren(el('p', { class: 'muted', text: 'loading…' }));
  let d;
  try { d = await api('/v1/alerts/' + encodeURIComponent(id)); }
  catch (e) { box.replaceChildren(el('p', { class: 'error', text: e.message })); return; }
  const a = d.alert;
  const head = el('div', { class: 'card', id: 'alert-summary' },
    el('h2', {}, el('span', { class: 'sev sev-' + a.severity, text: (a.severity_name || '') + ' ' }), a.rule_id),
    el('p', { text: a.message || '' }),
    kv([['Alert', '#' + a.id], ['Time', fmtTime(a.time)], ['Host', a.host], ['Address', a.source_address]]
      // With an account acted on, `user` is who acted.
      .concat(a.target_user ? [['Actor', a.user], ['Target user', a.target_user]] : [['User', a.user]])
      // A Windows event: which one, and for a logon its type and workstation.
      .concat(a.winlog ? [['Windows event', (a.winlog.channel || '') + ' ' + (a.winlog.event_id || '')]] : [])
      .concat(a.logon_type ? [['Logon type', a.logon_type]] : [])
      .concat(a.workstation ? [['Workstation', a.workstation]] : [])));
  if (a.winlog) head.append(originalBlock(a, 'alert-original'));
  else if (a.original) head.append(el('h3', { text: 'Raw line' }), el('pre', { class: 'raw', id: 'alert-raw', text: a.original }));

  const events = el('div', { class: 'card', id: 'alert-events' }, el('h3', { text: 'Events (' + d.events.length + ')' }));
  if (a.host === 'fleet') events.append(el('p', { class: 'muted', text: 'A fleet alert: the events behind it from every host.' }));
  const t = el('table', { class: 'grid' },
    el('thead', {}, el('tr', {}, el('th', { text: 'Time' }), el('th', { text: 'Host' }), el('th', { text: 'Action' }),
      el('th', { text: 'Outcome' }), el('th', { text: 'User' }), el('th', { text: 'Raw line' }))));
  const tb = el('tbody', {});
  for (const e of d.events) {
    tb.append(el('tr', { class: 'event-row' }, el('td', { text: fmtTime(e.time) }), el('td', { class: 'event-host', text: e.host || '—' }),
      el('td', { text: e.action }, e.winlog ? el('div', { class: 'win muted', text: windowsText(e) }) : ''),
      el('td', { text: e.outcome }), el('td', { text: userText(e) }),
      el('td', {}, e.winlog ? originalBlock(e, null)
        : el('pre', { class: 'raw', text: e.original || '(not sent by the agent)' }))));
  }
  t.append(tb);
  events.append(d.events.length ? t : el('p', { class: 'muted', text: 'No stored events match.' }));

  const actions = el('div', { class: 'card', id: 'alert-actions' }, el('h3', { text: 'Actions taken' }));
  if (!d.decisions.length && !d.deliveries.length) actions.append(el('p', { class: 'muted', text: 'None recorded.' }));
  for (const b of d.decisions) {
    actions.append(el('p', { text: 'Ban ' + b.target + (b.expires_at ? ' until ' + fmtTime(b.expires_at) : ' (permanent)') + ': ' + b.reason }));
  }
  for (const n of d.deliveries) {
    actions.append(el('p', { class: 'delivery', text: 'Notification via ' + n.sink + ': ' + deliveryText(n) + (n.last_error ? ' — ' + n.last_error : '') }));
  }

  const llm = el('div', { class: 'card', id: 'alert-analysis' }, el('h3', { text: 'LLM opinion (advisory)' }));
  if (!d.analysis) llm.append(el('p', { class: 'muted', text: 'Not requested.' }));
  else {
    llm.append(el('p', { class: 'muted', text: d.analysis.state + (d.analysis.model ? ' — ' + d.analysis.model : '') }));
    if (d.analysis.text) {
      // The model read the log lines, which an attacker can write: its answer is a hint.
      llm.append(el('p', { class: 'advisory', text: 'An LLM\'s opinion, not a verdict: check the events above before acting on it.' }),
                 el('p', { text: d.analysis.text }));
    }
    if (d.analysis.error) llm.append(el('p', { class: 'error', text: d.analysis.error }));
  }
  box.replaceChildren(head, events, actions, llm);
}

// "sent on the first attempt", "sent on attempt 3", "pending, 2 failed attempts", "failed after 5 attempts".
function deliveryText(n) {
  const times = k => k + (k === 1 ? ' attempt' : ' attempts');
  if (n.state === 'sent') return n.attempts <= 1 ? 'sent on the first attempt' : 'sent on attempt ' + n.attempts;
  if (n.state === 'failed') return 'failed after ' + times(n.attempts);
  return n.attempts ? 'pending, ' + times(n.attempts) + ' failed so far' : 'pending';
}

// ---- charts (inline SVG) ------------------------------------------------------------

function barsHorizontal(target, rows) {
  const box = $(target);
  if (!rows.length) { box.replaceChildren(el('p', { class: 'muted', text: 'No data.' })); return; }
  const w = 420, rowH = 20, labelW = 150, max = Math.max(...rows.map(r => r.count));
  const s = svg('svg', { viewBox: `0 0 ${w} ${rows.length * rowH + 4}`, width: '100%', role: 'img' });
  rows.forEach((r, i) => {
    const y = i * rowH + 2, bw = Math.max(2, (w - labelW - 40) * r.count / max);
    const label = svg('text', { x: 0, y: y + 14 }); label.textContent = r.key.length > 22 ? r.key.slice(0, 21) + '…' : r.key;
    const bar = svg('rect', { class: 'bar', x: labelW, y: y + 3, width: bw, height: rowH - 6 });
    const title = svg('title', {}); title.textContent = r.key + ': ' + r.count; bar.append(title);
    const n = svg('text', { x: labelW + bw + 4, y: y + 14 }); n.textContent = String(r.count);
    s.append(label, bar, n);
  });
  box.replaceChildren(s);
}

function barsPerHour(target, perHour, since, until) {
  const box = $(target);
  const first = Math.floor(since / 3600), last = Math.floor((until - 1) / 3600);
  const counts = new Map(perHour.map(h => [h.hour / 3600, h.count]));
  const hours = [];
  for (let h = first; h <= last; h++) hours.push([h, counts.get(h) || 0]);
  const w = 420, h = 160, pad = 24, max = Math.max(1, ...hours.map(x => x[1]));
  const bw = (w - pad) / hours.length;
  const s = svg('svg', { viewBox: `0 0 ${w} ${h + 18}`, width: '100%', role: 'img' });
  s.append(svg('line', { class: 'axis', x1: pad, y1: h, x2: w, y2: h }));
  const top = svg('text', { x: 0, y: 10 }); top.textContent = String(max); s.append(top);
  hours.forEach(([hr, n], i) => {
    const bh = (h - 12) * n / max;
    const bar = svg('rect', { class: 'bar', x: pad + i * bw + 1, y: h - bh, width: Math.max(1, bw - 2), height: bh });
    const title = svg('title', {}); title.textContent = fmtTime(hr * 3600) + ': ' + n; bar.append(title);
    s.append(bar);
    if (i % 6 === 0) {
      // Centred under its bar, but kept inside the chart at either end (the last one was cut).
      const mid = pad + i * bw + bw / 2, half = 16;
      const [x, anchor] = mid + half > w ? [w, 'end'] : mid - half < 0 ? [0, 'start'] : [mid, 'middle'];
      const t = svg('text', { class: 'hour-label', x: x, y: h + 14, 'text-anchor': anchor });
      t.textContent = new Date(hr * 3600000).toISOString().slice(11, 16); s.append(t);
    }
  });
  box.replaceChildren(s);
}

async function showCharts() {
  try {
    const st = await api('/v1/stats');
    barsPerHour('chart-hours', st.per_hour, st.since, st.until);
    barsHorizontal('chart-sources', st.top_sources);
    barsHorizontal('chart-users', st.top_users);
    barsHorizontal('chart-hosts', st.per_host);
    status(st.total + ' alerts in the last 24 hours');
  } catch (e) { status(e.message, true); }
}

// ---- DNS ----------------------------------------------------------------------------

function barsPerDay(target, perDay, since, until) {
  const box = $(target);
  const first = Math.floor(since / 86400), last = Math.floor((until - 1) / 86400);
  const counts = new Map(perDay.map(d => [d.day / 86400, d.count]));
  const rows = [];
  for (let d = first; d <= last; d++) {
    rows.push({ key: new Date(d * 86400000).toISOString().slice(0, 10), count: counts.get(d) || 0 });
  }
  if (!rows.some(r => r.count)) { box.replaceChildren(el('p', { class: 'muted', text: 'No hits.' })); return; }
  barsHorizontal(target, rows.slice(-31));
}

// A client's address links to its own hits; the owner the configuration names comes with it.
function clientLink(ip) {
  return ip ? el('a', { href: '#/dns/' + encodeURIComponent(ip), class: 'dns-client', text: ip }) : '—';
}

function dnsHitRow(h) {
  return el('tr', { class: 'dns-hit-row', 'data-alert': String(h.alert_id) },
    el('td', {}, el('a', { href: '#/alert/' + h.alert_id, text: fmtTime(h.time) })),
    el('td', {}, clientLink(h.client)),
    el('td', { class: 'dns-owner', text: h.owner || '—' }),
    el('td', { class: 'dns-domain', text: h.domain }),
    el('td', { text: h.type || '—' }),
    el('td', { class: 'dns-finding', text: h.finding || '—' }),
    el('td', { text: [h.list, h.verdict].filter(Boolean).join(' · ') || '—' }),
    el('td', { class: 'dns-answer', text: h.answer || '—' }),
    el('td', { text: h.host || '—' }));
}

async function showDns(client) {
  const span = Number($('dns-time').value);
  const now = Math.floor(Date.now() / 1000);
  const since = now - span;
  if (client !== undefined) $('dns-client').value = client;
  const who = $('dns-client').value.trim();
  $('dns-range-text').textContent = $('dns-time').selectedOptions[0].textContent;
  try {
    const st = await api('/v1/dns/stats?since=' + since);
    barsPerDay('chart-dns-days', st.per_day, st.since, st.until);
    barsHorizontal('chart-dns-domains', st.top_domains);
    barsHorizontal('chart-dns-findings', st.per_finding);
    const list = el('ol', { class: 'dns-top-clients' });
    for (const c of st.top_clients) list.append(el('li', {}, clientLink(c.key), ' ', el('span', { class: 'muted', text: String(c.count) })));
    $('dns-clients').replaceChildren(st.top_clients.length ? list : el('p', { class: 'muted', text: 'No hits.' }));
    const q = new URLSearchParams({ since: String(since), limit: '100' });
    if (who) q.set('client', who);
    const r = await api('/v1/dns/hits?' + q.toString());
    $('dns-hits-title').textContent = who ? 'Recent hits of ' + who : 'Recent hits';
    $('dns-hits-body').replaceChildren(...r.hits.map(dnsHitRow));
    status(st.total + ' DNS hits, ' + r.hits.length + ' shown');
  } catch (e) { status(e.message, true); }
}

// ---- agents and bans ----------------------------------------------------------------

async function showAgents() {
  try {
    const r = await api('/v1/agents');
    $('agents-body').replaceChildren(...r.agents.map(a => el('tr', { class: 'agent-row' },
      el('td', { text: a.host }), el('td', { class: 'muted', text: a.id }), el('td', { text: a.version || '—' }),
      el('td', { text: fmtAgo(a.seen_secs_ago) }), el('td', { text: a.lag_secs === null ? '—' : a.lag_secs + ' s' }),
      el('td', { text: a.spool_items === null ? '—' : a.spool_items + ' items, ' + a.spool_bytes + ' B' }),
      el('td', { text: a.revoked ? 'revoked' : 'active' }))));
    status(r.agents.length + ' agents');
  } catch (e) { status(e.message, true); }
}

async function showBans() {
  try {
    const r = await api('/v1/bans');
    $('bans-body').replaceChildren(...r.bans.map(b => el('tr', { class: 'ban-row', 'data-target': b.target },
      el('td', {}, b.alert_id ? el('a', { href: '#/alert/' + b.alert_id, text: '#' + b.id }) : '#' + b.id),
      el('td', { text: b.target }), el('td', { text: b.reason }), el('td', { text: b.rule_id || '—' }),
      el('td', { text: fmtTime(b.created_at) }), el('td', { text: b.expires_at ? fmtTime(b.expires_at) : 'never' }),
      el('td', { text: b.active ? 'in force' : (b.lifted ? 'lifted' : 'expired') }),
      el('td', {}, b.active ? liftButton(b) : ''))));
    status(r.bans.length + ' bans');
  } catch (e) { status(e.message, true); }
}

// Lifting asks once, in the row itself (no window.confirm: it blocks and cannot be styled).
function liftButton(b) {
  const cell = el('span', { class: 'lift' });
  const ask = el('button', { type: 'button', class: 'lift-ask', text: 'Lift' });
  ask.addEventListener('click', () => {
    const yes = el('button', { type: 'button', class: 'lift-yes', text: 'Lift ban on ' + b.target });
    const no = el('button', { type: 'button', class: 'lift-no', text: 'Cancel' });
    no.addEventListener('click', () => cell.replaceChildren(ask));
    yes.addEventListener('click', () => liftBan(b, yes));
    cell.replaceChildren(yes, ' ', no);
  });
  cell.append(ask);
  return cell;
}

async function liftBan(b, button) {
  button.disabled = true;
  try {
    await api('/v1/bans/' + encodeURIComponent(b.id), { method: 'DELETE', headers: { 'X-CSRF-Token': csrf } });
    await showBans();
    status('ban #' + b.id + ' on ' + b.target + ' lifted');
  } catch (e) { button.disabled = false; status(e.message, true); }
}

// An empty duration is not silently forever: the form asks, in place, for a permanent ban.
async function addBan(ev) {
  ev.preventDefault();
  const body = { target: $('ban-target').value.trim(), reason: $('ban-reason').value.trim() };
  const d = $('ban-duration').value.trim();
  if (d) {
    if (!/^[0-9]+$/.test(d) || Number(d) <= 0) { status('Duration: a number of seconds above 0, or leave it empty for a permanent ban', true); return; }
    body.duration_secs = Number(d);
    return sendBan(body);
  }
  const box = $('ban-permanent');
  const yes = el('button', { type: 'button', id: 'ban-permanent-yes', text: 'Ban ' + body.target + ' permanently' });
  const no = el('button', { type: 'button', id: 'ban-permanent-no', text: 'Cancel' });
  no.addEventListener('click', () => { box.replaceChildren(); box.hidden = true; });
  yes.addEventListener('click', () => { box.replaceChildren(); box.hidden = true; body.permanent = true; sendBan(body); });
  box.replaceChildren(el('span', { text: 'No duration given: a permanent ban never ends by itself. ' }), yes, ' ', no);
  box.hidden = false;
}

async function sendBan(body) {
  try {
    await api('/v1/bans', { method: 'POST', body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf } });
    $('ban-form').reset();
    showBans();
  } catch (e) { status(e.message, true); }
}

// Logging out ends the session on the server; only then does the page leave (a refusal is
// shown, so the operator never believes a session ended that did not).
async function logout() {
  try {
    const r = await fetch('/logout', { method: 'POST', credentials: 'same-origin',
                                       headers: { 'X-CSRF-Token': csrf } });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      throw new Error('log out failed: ' + (body.error || r.statusText));
    }
    location.href = '/login';
  } catch (e) { status(e.message, true); }
}

// ---- routing ------------------------------------------------------------------------

function route() {
  const h = location.hash || '#/alerts';
  const [, view, arg] = h.split('/');
  stopPolling();
  status('');
  for (const s of document.querySelectorAll('.view')) s.hidden = true;
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('current', a.id === 'nav-' + view);
  if (view === 'alert' && arg) { $('view-alert').hidden = false; showAlert(arg); return; }
  if (view === 'charts') { $('view-charts').hidden = false; showCharts(); return; }
  if (view === 'agents') { $('view-agents').hidden = false; showAgents(); return; }
  if (view === 'bans') { $('view-bans').hidden = false; showBans(); return; }
  if (view === 'dns') { $('view-dns').hidden = false; showDns(arg ? decodeURIComponent(arg) : ''); return; }
  $('view-alerts').hidden = false;
  loadAlerts(false);
  startPolling();
}

async function start() {
  try {
    const who = await api('/v1/session');
    csrf = who.csrf;
    $('whoami').textContent = who.user;
  } catch (e) { return; }
  $('filters').addEventListener('submit', ev => { ev.preventDefault(); cursor = null; loadAlerts(false); });
  $('clear').addEventListener('click', () => { $('filters').reset(); cursor = null; loadAlerts(false); });
  $('more').addEventListener('click', () => loadAlerts(true));
  $('ban-form').addEventListener('submit', addBan);
  $('dns-filters').addEventListener('submit', ev => {
    ev.preventDefault();
    const who = $('dns-client').value.trim();
    const target = who ? '#/dns/' + encodeURIComponent(who) : '#/dns';
    if (location.hash !== target) location.hash = target; else showDns();
  });
  $('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  route();
}

document.addEventListener('DOMContentLoaded', start);
