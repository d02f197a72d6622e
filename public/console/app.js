// The agent console: sign-in, the socket, and the wiring between the
// model (model.js), the inbox (inbox.js) and the open conversation
// (thread.js). docs/console.md is the contract with the relay.

import * as api from '../shared/api.js';
import { $, announce, clip, showMsg, toast } from '../shared/dom.js';
import { AgentSocket, CLOSE_SIGNED_OUT } from './socket.js';
import { Model, ReadStore } from './model.js';
import { Outbox } from './outbox.js';
import { Inbox, visitorLabel } from './inbox.js';
import { Thread } from './thread.js';
import * as alerts from './notify.js';
import * as push from './push.js';
import { Tags, Search } from './search.js';

const model = new Model();
let user = null;
let outbox = null;
let inbox = null;
let thread = null;
let tags = null;
let search = null; // eslint-disable-line no-unused-vars -- kept for debugging in the page's console
let socket = null;
const prefs = alerts.loadPrefs();
let presenceSynced = false;
let opened = false; // the current socket got a welcome
let actionLog = []; // recent conversation actions, to name what an error frame refers to
const drafts = new Map();

// --- screens ------------------------------------------------------------------

function screen(name) {
  $('#boot').hidden = true;
  $('#signin').hidden = name !== 'signin';
  $('#app').hidden = name !== 'app';
}

function showSignin(message) {
  stopSession();
  screen('signin');
  showMsg($('#signin-msg'), message);
  $('#password').value = '';
  (($('#username').value && $('#password')) || $('#username')).focus();
  alerts.setTitleCount(0);
}

// --- sign-in --------------------------------------------------------------------

$('#signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const username = $('#username').value.trim();
  const password = $('#password').value;
  const msg = $('#signin-msg');
  if (!username || !password) {
    showMsg(msg, 'Enter your user name and password.');
    return;
  }
  const btn = $('#signin-btn');
  btn.disabled = true;
  try {
    const u = await api.login(username, password);
    startSession(u);
  } catch (err) {
    showMsg(msg, err.status === 401 ? 'Wrong user name or password.'
      : err.status === 429 ? (err.code === 'rate_limited' ? err.message : 'Too many attempts. Wait a moment, then try again.')
        : `Could not sign in (${err.message}).`);
    $('#password').select();
  } finally {
    btn.disabled = false;
  }
});

$('#signout').addEventListener('click', async () => {
  const s = socket;
  socket = null;
  s?.stop();
  try { await api.logout(); } catch { /* the session is gone either way */ }
  showSignin('You signed out.');
});

// --- session --------------------------------------------------------------------

function startSession(u) {
  stopSession();
  user = u;
  model.reset();
  model.readStore = new ReadStore(u.id);
  presenceSynced = false;
  outbox = new Outbox(u.id, (f) => socket?.send(f) || false, (conv) => {
    if (thread?.c?.id === conv) thread.pending();
  });
  Object.assign(thread, { outbox });
  $('#me').textContent = u.name || u.username;
  $('#me').title = `Signed in as ${u.username} (${u.role})`;
  screen('app');
  inbox.selected = '';
  thread.show(null);
  inbox.render();
  socket = new AgentSocket({ onFrame, onState, onClose, hello });
  socket.start();
  canned().then((list) => thread.canned(list), () => thread.canned(null));
  $('#tab-' + inbox.tab).focus();
}

// hello is what the console tells the relay on every (re)connect: the
// status chosen here, and where each conversation we hold stands.
function hello() {
  let status = 'online';
  try { status = localStorage.getItem(presenceKey()) === 'away' ? 'away' : 'online'; } catch { /* disabled */ }
  const positions = {};
  let n = 0;
  for (const c of model.convs.values()) {
    if (c.have > 0 && model.isMine(c) && n < 1000) { positions[c.id] = c.have; n++; }
  }
  return n ? { status, positions } : { status };
}

function stopSession() {
  socket?.stop();
  socket = null;
  outbox?.close();
  outbox = null;
  user = null;
  model.reset();
  drafts.clear();
  if (inbox) { inbox.entries.clear(); $('#list').replaceChildren(); }
  thread?.show(null);
  tags?.show(null);
}

function onState(state, info) {
  const el = $('#conn');
  el.dataset.state = state;
  el.textContent = {
    connecting: 'Connecting…',
    open: 'Connected',
    waiting: `Reconnecting in ${Math.ceil((info || 0) / 1000)} s…`,
    offline: 'Offline — waiting for the network',
    stopped: 'Disconnected',
  }[state] || state;
}

async function onClose(code) {
  const hadWelcome = opened;
  opened = false;
  for (const c of model.convs.values()) { c.watched = false; c.typing = null; }
  thread.typing();
  if (code === CLOSE_SIGNED_OUT) {
    showSignin('Your session ended (signed out, password changed or account disabled). Sign in again.');
    return;
  }
  // A refused upgrade (401) has no close code: ask whether we are still
  // signed in before trying again.
  if (!hadWelcome) {
    try {
      if (!(await api.me())) showSignin('Your session has expired. Sign in again.');
    } catch { /* the relay is unreachable: keep retrying */ }
  }
}

// canned lists the intents' answers ({name, text}) for the reply box, or
// null when the relay has no GET /v1/canned.
async function canned() {
  try {
    const r = await api.get('/v1/canned');
    const list = Array.isArray(r) ? r : r?.canned;
    if (!Array.isArray(list)) return null;
    return list.map((c) => ({ name: String(c.name ?? ''), text: String(c.answer ?? c.text ?? '') })).filter((c) => c.text);
  } catch (e) {
    if (e.status === 404 || e.status === 405) return null;
    throw e;
  }
}

// --- frames ---------------------------------------------------------------------

function onFrame(f) {
  switch (f.type) {
    case 'welcome':
      opened = true;
      presenceSynced = false; // a new socket: say our status again (a restarted relay forgot it)
      model.apply(f);
      afterWelcome();
      return;
    case 'ack': {
      const it = outbox.acked(f.id, f.seq);
      if (it && f.conversation_id) {
        // Keep our read position past our own reply.
        const c = model.conv(f.conversation_id);
        if (thread.c === c && visible()) model.markRead(c);
      }
      return;
    }
    case 'error':
      onError(f);
      return;
    case 'tags':
      tags.frame(f);
      return;
    default:
      model.apply(f);
  }
}

function afterWelcome() {
  model.readStore.prune(new Set(model.convs.keys()));
  // Watch again what we were looking at, from where we were: the relay
  // replays only what we missed.
  const sel = thread.c;
  if (sel) socket.send({ type: 'watch', conversation_id: sel.id, last_seq: sel.have });
  outbox.flush();
  inbox.render();
  if (sel) thread.show(model.conv(sel.id));
  refreshAlerts();
  openFromLink();
  tags.load();
}

// openFromLink opens the conversation a mail's link names (#c=<id>),
// once the inbox knows it.
function openFromLink() {
  const m = /^#c=([a-z2-7]{16})$/.exec(location.hash);
  if (!m || !model.convs.has(m[1])) return;
  history.replaceState(null, '', location.pathname + location.search);
  select(m[1], true);
}

function onError(f) {
  if (f.id && outbox.refused(f.id, f.code, f.message)) {
    if (f.code === 'rate_limited') toast('Sending too fast; retrying in a moment.');
    return;
  }
  // Errors about take/transfer/close/watch name no conversation: say which
  // action it most likely was (the newest one in the last few seconds).
  const now = Date.now();
  actionLog = actionLog.filter((a) => now - a.at < 10_000);
  const a = actionLog.pop();
  actionLog = [];
  const what = a ? { take: 'Take over', transfer: 'Transfer', close: 'Close', watch: 'Opening the conversation' }[a.kind] : 'The last action';
  toast(`${what} failed: ${f.message || f.code}`);
}

// act sends a conversation action.
function act(kind, conv, extra) {
  const f = { type: kind, conversation_id: conv };
  if (kind === 'transfer') f.to = extra;
  if (!socket?.send(f)) { toast('Not connected; try again in a moment.'); return; }
  actionLog.push({ kind, conv, at: Date.now() });
}

model.on((kind, id, d) => {
  if (!user) return;
  const sel = thread.c && thread.c.id === id ? thread.c : null;
  switch (kind) {
    case 'welcome':
      return;
    case 'agents':
      syncPresence();
      if (thread.c) thread.agents();
      return;
    case 'conversation':
      if (d.stale) return;
      inbox.schedule();
      if (sel) thread.header();
      onConversationChange(model.conv(id), d);
      refreshAlerts();
      return;
    case 'watching':
      if (sel) { thread.traits(); thread.older(); thread.header(); }
      inbox.schedule();
      return;
    case 'message': {
      const c = model.conv(id);
      if (d.m.id) outbox.stored(d.m.id);
      if (sel) {
        thread.message(d.m, d.live);
        if (visible()) model.markRead(c);
      }
      if (d.live) onLiveMessage(c, d.m);
      inbox.schedule();
      refreshAlerts();
      return;
    }
    case 'delta':
      thread.delta(id, d.id, d.s);
      return;
    case 'note':
      if (d.client_id) outbox.stored(d.client_id);
      thread.note(id, d);
      return;
    case 'typing':
      if (sel) thread.typing();
      return;
    case 'read':
      inbox.schedule();
      refreshAlerts();
      return;
  }
});

// --- selection ------------------------------------------------------------------

// leave stops following the open conversation when it is not ours (watch
// resumes from its last seq later).
function leave(prev, next) {
  if (prev && prev.id !== next && prev.watched && !model.isMine(prev)) {
    socket?.send({ type: 'unwatch', conversation_id: prev.id });
    prev.watched = false;
  }
}

function select(id, focusHistory) {
  leave(thread.c, id);
  const c = model.conv(id);
  inbox.select(id);
  if (!c.watched && socket?.send({ type: 'watch', conversation_id: id, last_seq: c.have })) {
    actionLog.push({ kind: 'watch', conv: id, at: Date.now() });
  }
  thread.show(c);
  tags.show(id);
  if (visible()) model.markRead(c);
  if (focusHistory) $('#reply').focus();
}

// back closes the open conversation: on a phone the inbox and the
// conversation take the whole screen in turn.
function back() {
  const prev = thread.c;
  leave(prev, '');
  inbox.select('');
  thread.show(null);
  tags.show(null);
  if (prev) inbox.entries.get(prev.id)?.btn.focus();
}
$('#back').addEventListener('click', back);

// --- presence -------------------------------------------------------------------

const presenceKey = () => `kefu-console:${user.id}:presence`;

$('#presence').addEventListener('change', () => {
  const status = $('#presence').value;
  try { localStorage.setItem(presenceKey(), status); } catch { /* disabled */ }
  if (!socket?.send({ type: 'presence', status })) toast('Not connected; your status is sent when the console reconnects.');
  presenceSynced = true;
});

// syncPresence applies the agent's chosen status once per connection (the
// relay forgets "away" when it restarts), and follows changes made in
// other tabs afterwards.
function syncPresence() {
  const mine = model.agents.find((a) => a.id === model.me?.id);
  if (!mine || mine.status === 'offline') return;
  let want = 'online';
  try { want = localStorage.getItem(presenceKey()) || 'online'; } catch { /* disabled */ }
  if (!presenceSynced) {
    presenceSynced = true;
    if (mine.status !== want) { socket?.send({ type: 'presence', status: want }); $('#presence').value = want; return; }
  }
  $('#presence').value = mine.status === 'away' ? 'away' : 'online';
  try { localStorage.setItem(presenceKey(), $('#presence').value); } catch { /* disabled */ }
}

// --- alerts ---------------------------------------------------------------------

const visible = () => document.visibilityState === 'visible';

function refreshAlerts() {
  alerts.setTitleCount(model.attention());
}

function attention(title, body, conv) {
  // Read out too: a new chat, or a message in one that is not open.
  announce(`${title}: ${clip(body, 140)}`);
  if (prefs.sound && (!visible() || thread.c?.id !== conv)) alerts.beep();
  if (prefs.notify && !visible()) alerts.show(title, clip(body, 180), 'kefu-' + conv, () => select(conv, true));
}

function onLiveMessage(c, m) {
  if (m.from !== 'visitor' || !model.isMine(c)) return;
  if (thread.c?.id === c.id && visible()) return;
  attention(`${visitorLabel(c)} wrote`, m.text, c.id);
}

function onConversationChange(c, d) {
  if (!d.full) return;
  const b = d.before;
  const nowMine = model.isMine(c);
  const wasMine = b.status === 'open' && b.handler === 'agent' && b.agentId === model.me?.id;
  if (nowMine && !wasMine) {
    // Queue entries become unread when they reach us.
    c.seen = thread.c?.id === c.id;
    attention('New chat for you', c.preview || 'A visitor needs a person.', c.id);
  } else if (model.inQueue(c) && !(b.known && b.status === 'open' && b.handler === 'queue')) {
    if (model.me?.status !== 'away') attention('A visitor is waiting', c.preview || 'A visitor needs a person.', c.id);
  }
}

$('#opt-sound').addEventListener('change', (e) => {
  prefs.sound = e.target.checked;
  if (prefs.sound) { alerts.unlockAudio(); alerts.beep(); }
  alerts.savePrefs(prefs);
});

$('#opt-push').addEventListener('change', async (e) => {
  const on = e.target.checked;
  e.target.disabled = true;
  try {
    if (on) await push.enable(); else await push.disable();
    toast(on ? 'Push notifications on for this browser.' : 'Push notifications off for this browser.');
  } catch (err) {
    e.target.checked = !on;
    toast(err.message);
  } finally {
    e.target.disabled = !push.supported();
  }
});

window.addEventListener('hashchange', openFromLink);

$('#opt-notify').addEventListener('change', async (e) => {
  if (e.target.checked) {
    const ok = await alerts.askNotify();
    if (!ok) {
      e.target.checked = false;
      toast(alerts.notifySupported() ? 'The browser blocked notifications for this site.' : 'This browser has no notifications.');
    }
  }
  prefs.notify = e.target.checked;
  alerts.savePrefs(prefs);
});

// Sound needs a user gesture after every page load.
for (const ev of ['pointerdown', 'keydown']) {
  document.addEventListener(ev, () => { if (prefs.sound) alerts.unlockAudio(); }, { capture: true });
}

document.addEventListener('visibilitychange', () => {
  if (visible() && thread?.c) model.markRead(thread.c);
  refreshAlerts();
});

// --- network ----------------------------------------------------------------------

window.addEventListener('offline', () => socket?.drop(false));
window.addEventListener('online', () => socket?.now());

// --- keyboard -------------------------------------------------------------------

document.addEventListener('keydown', (e) => {
  if (!user || !e.altKey || e.ctrlKey || e.metaKey) return;
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    inbox.step(e.key === 'ArrowDown' ? 1 : -1);
  }
});

// --- boot ---------------------------------------------------------------------------

async function boot() {
  tags = new Tags({ toast, changed: () => inbox.schedule() });
  inbox = new Inbox(model, select, (id) => tags.of(id));
  search = new Search({ tags, agents: () => model.agents, open: (id) => select(id, true) });
  thread = new Thread({ model, outbox: null, send: (f) => socket?.send(f) || false, toast, act, drafts, open: (id) => select(id, false) });
  $('#opt-sound').checked = prefs.sound;
  $('#opt-notify').checked = prefs.notify && alerts.notifySupported() && Notification.permission === 'granted';
  prefs.notify = $('#opt-notify').checked;
  if (!alerts.notifySupported()) $('#opt-notify').disabled = true;
  $('#opt-push').disabled = !push.supported();
  push.current().then((sub) => { $('#opt-push').checked = !!sub; }).catch(() => {});
  try {
    const u = await api.me();
    if (u) startSession(u); else showSignin('');
  } catch (e) {
    showSignin(`The relay did not answer (${e.message}). Reload to try again.`);
  }
}

boot();
