// The console's state: the inbox, each conversation's messages (by seq,
// gap-free and duplicate-free), AI streams, typing, traits, unread counts.
// apply(frame) is the only writer for relay data; views subscribe with
// on(fn) and get (kind, convId, detail) for what changed.

const TYPING_MS = 5000; // show "typing" this long after the last on:true

export function newConv(id) {
  return {
    id, status: 'open', handler: 'bot', agentId: '', handlerName: '', visitorId: '',
    lastSeq: 0, preview: '', intent: '', updatedAt: 0, listed: false,
    msgs: new Map(), // seq → message frame
    have: 0, // highest seq with nothing missing below it (what watch resumes from)
    firstShown: 0, // seq the replay started after when history was capped
    replayTo: 0, // messages up to this seq came from a replay (no alerts)
    streams: new Map(), // stream_id → {text, last, done}
    finished: new Set(), // stream ids whose stored message arrived
    notes: new Map(), // note id → note frame (internal: agents only)
    traits: null, watched: false,
    typing: null, // {who, until}
    read: 0, // seq the agent has read up to
    seen: false, // opened at least once (queue entries count as unread until then)
  };
}

export class Model {
  constructor() {
    this.reset();
    this.fns = [];
  }

  reset() {
    this.me = null; // {id, username, name, role, status}
    this.agents = [];
    this.convs = new Map();
    this.readStore = null;
  }

  on(fn) { this.fns.push(fn); }
  emit(kind, id, detail) { for (const fn of this.fns) fn(kind, id, detail); }

  conv(id) {
    let c = this.convs.get(id);
    if (!c) {
      c = newConv(id);
      const r = this.readStore?.get(id);
      if (r) { c.read = r.read || 0; c.seen = !!r.seen; }
      this.convs.set(id, c);
    }
    return c;
  }

  isMine(c) { return c.status === 'open' && c.handler === 'agent' && !!this.me && c.agentId === this.me.id; }
  inQueue(c) { return c.status === 'open' && c.handler === 'queue'; }

  // unread counts the visitor's messages after the read position.
  unread(c) {
    let n = 0;
    for (const [seq, m] of c.msgs) if (seq > c.read && m.from === 'visitor') n++;
    return n;
  }

  // attention is the tab title's count: unread visitor messages in the
  // agent's own conversations, plus queued chats nobody opened here yet.
  attention() {
    let n = 0;
    for (const c of this.convs.values()) {
      if (this.isMine(c)) n += this.unread(c);
      else if (this.inQueue(c) && !c.seen) n += 1;
    }
    return n;
  }

  markRead(c) {
    const top = Math.max(c.have, ...c.msgs.keys(), 0);
    if (top <= c.read && c.seen) return;
    c.read = Math.max(c.read, top);
    c.seen = true;
    this.readStore?.set(c.id, { read: c.read, seen: true });
    this.emit('read', c.id);
  }

  // summary merges an inbox entry. Full summaries (the inbox topic; they
  // carry updated_at) replace every field; the short form a watched
  // conversation's topic sends (status, handler, handler_name) only those.
  summary(f) {
    const c = this.conv(f.conversation_id);
    const before = { status: c.status, handler: c.handler, agentId: c.agentId, known: c.listed };
    const full = typeof f.updated_at === 'number';
    // Inbox updates and the conversation's own frames travel separately and
    // may cross: a full summary older than the one shown is stale.
    if (full && f.updated_at < c.updatedAt) return { c, before, full, stale: true };
    if (f.status) c.status = f.status;
    if (f.handler) {
      const sameName = (f.handler_name || '') === c.handlerName;
      c.handler = f.handler;
      c.handlerName = f.handler_name || '';
      // The short form has no agent id: keep ours only if the name matches.
      if (f.handler !== 'agent' || (!full && !sameName)) c.agentId = '';
    }
    if (full) {
      c.agentId = f.agent_id || '';
      c.visitorId = f.visitor_id || c.visitorId;
      c.lastSeq = Math.max(c.lastSeq, f.last_seq || 0);
      c.preview = f.preview || '';
      c.intent = f.intent || '';
      c.updatedAt = f.updated_at;
    }
    c.listed = true;
    return { c, before, full };
  }

  apply(f) {
    switch (f.type) {
      case 'welcome': {
        this.me = { ...f.agent };
        this.agents = f.agents || [];
        const listed = new Set();
        for (const s of f.conversations || []) { this.summary(s); listed.add(s.conversation_id); }
        for (const c of this.convs.values()) {
          c.listed = listed.has(c.id);
          c.watched = false; // a new socket watches nothing until asked (or auto-watched)
          c.typing = null;
        }
        this.emit('welcome');
        return;
      }
      case 'agents':
        this.agents = f.agents || [];
        if (this.me) {
          const mine = this.agents.find((a) => a.id === this.me.id);
          if (mine) Object.assign(this.me, { status: mine.status, load: mine.load, capacity: mine.capacity });
        }
        this.emit('agents');
        return;
      case 'conversation': {
        if (!f.conversation_id) return;
        const r = this.summary(f);
        this.emit('conversation', r.c.id, r);
        return;
      }
      case 'inbox': // message activity, batched by the relay (full summaries)
        for (const s of f.conversations || []) {
          if (!s || !s.conversation_id) continue;
          const r = this.summary(s);
          this.emit('conversation', r.c.id, r);
        }
        return;
      case 'watching': {
        const c = this.conv(f.conversation_id);
        c.watched = true;
        c.traits = f.traits || {};
        c.contact = f.contact || null;
        c.lang = f.lang || '';
        if (f.visitor_id) c.visitorId = f.visitor_id;
        c.replayTo = Math.max(c.replayTo, f.seq || 0);
        // A capped replay starts after from_seq: what lies between our last
        // seq and it is not shown here (older history is in the admin page).
        if ((f.from_seq || 0) > c.have) {
          c.firstShown = f.from_seq;
          c.have = f.from_seq;
          while (c.msgs.has(c.have + 1)) c.have++;
        }
        this.emit('watching', c.id);
        return;
      }
      case 'message': return this.message(f);
      case 'note': {
        if (!f.conversation_id || !f.id) return;
        const c = this.conv(f.conversation_id);
        if (c.notes.has(f.id)) return; // sent again on a new watch
        c.notes.set(f.id, f);
        this.emit('note', c.id, f);
        return;
      }
      case 'delta': return this.delta(f);
      case 'typing': {
        if (!f.conversation_id) return;
        const c = this.conv(f.conversation_id);
        // Our own typing comes back on the conversation's topic.
        if (f.from === 'agent' && this.me && f.author === this.me.name) return;
        const who = f.from === 'visitor' ? 'visitor' : f.from === 'bot' ? 'AI' : (f.author || 'A colleague');
        c.typing = f.on ? { who, from: f.from, until: Date.now() + TYPING_MS } : null;
        this.emit('typing', c.id);
        return;
      }
      default:
        this.emit(f.type, f.conversation_id, f);
    }
  }

  message(m) {
    if (!m.conversation_id || typeof m.seq !== 'number' || m.seq < 1) return;
    const c = this.conv(m.conversation_id);
    if (c.msgs.has(m.seq)) return; // a replay overlapping what we have
    c.msgs.set(m.seq, m);
    while (c.msgs.has(c.have + 1)) c.have++;
    if (m.seq > c.lastSeq) c.lastSeq = m.seq;
    if (m.stream_id) {
      c.finished.add(m.stream_id);
      c.streams.delete(m.stream_id);
    }
    if (m.from !== 'system' && c.typing && (c.typing.from === m.from || m.from === 'bot')) c.typing = null;
    const live = m.seq > c.replayTo;
    this.emit('message', c.id, { m, live });
  }

  // delta: index 0 replaces (a console that joined mid-answer), later
  // indexes append in order, anything older is a duplicate.
  delta(f) {
    if (!f.conversation_id || !f.stream_id) return;
    const c = this.conv(f.conversation_id);
    if (c.finished.has(f.stream_id)) return;
    let s = c.streams.get(f.stream_id);
    if (!s) {
      if (!f.text && f.done) return;
      // The first delta seen should be index 0 (the text so far) or 1; a
      // later one means the start of the answer never reached us.
      s = { text: '', last: -1, done: false, cut: f.index > 1 };
      c.streams.set(f.stream_id, s);
    }
    if (f.index === 0) { s.text = f.text || ''; s.last = 0; s.cut = false; } else if (f.index > s.last) { s.text += f.text || ''; s.last = f.index; }
    if (f.done) s.done = true;
    if (c.typing && c.typing.from === 'bot') c.typing = null;
    this.emit('delta', c.id, { id: f.stream_id, s });
  }

  // sorted lists the history in seq order.
  sorted(c) {
    return [...c.msgs.values()].sort((a, b) => a.seq - b.seq);
  }
}

// ReadStore keeps read positions per conversation in localStorage, per
// account, so a reload does not mark everything unread again.
export class ReadStore {
  constructor(userId) {
    this.key = `kefu-console:${userId}:read`;
    try { this.map = JSON.parse(localStorage.getItem(this.key) || '{}') || {}; } catch { this.map = {}; }
    this.t = 0;
  }
  get(id) { return this.map[id]; }
  set(id, v) {
    this.map[id] = v;
    clearTimeout(this.t);
    this.t = setTimeout(() => this.save(), 300);
  }
  // prune drops conversations the inbox no longer lists.
  prune(keep) {
    for (const id of Object.keys(this.map)) if (!keep.has(id)) delete this.map[id];
    this.save();
  }
  save() {
    try { localStorage.setItem(this.key, JSON.stringify(this.map)); } catch { /* full or disabled */ }
  }
}
