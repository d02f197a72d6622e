// Replies and internal notes not yet acknowledged. Each has a client id;
// it is sent again
// with the same id after a reconnect (or when no ack came in time) until
// the relay acks it, which it does once however often it is sent. Kept in
// sessionStorage: a reload of this tab resends too, other tabs don't.

import { announce } from '../shared/dom.js';

const RESEND_MS = 10_000; // no ack this long on an open socket: send again
const RETRY_MS = 2_000; // after rate_limited / storage_unavailable

// Errors after which sending the same message again can work.
const RETRYABLE = new Set(['rate_limited', 'storage_unavailable', 'internal', 'shutting_down', 'slow_consumer']);

export function newID() {
  const rnd = crypto.getRandomValues(new Uint8Array(8));
  return 'c-' + Date.now().toString(36) + '-' + [...rnd].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export class Outbox {
  // send(frame) → bool writes to the socket; changed(conv) redraws.
  constructor(userId, send, changed) {
    this.key = `kefu-console:${userId}:outbox`;
    this.sendFrame = send;
    this.changed = changed;
    this.items = new Map(); // id → {id, conv, text, ts, state: pending|failed, error, sentAt}
    try {
      for (const it of JSON.parse(sessionStorage.getItem(this.key) || '[]')) {
        if (it && it.id && it.conv && typeof it.text === 'string') this.items.set(it.id, { ...it, kind: it.kind === 'note' ? 'note' : 'message', state: 'pending', sentAt: 0 });
      }
    } catch { /* nothing kept */ }
    this.timer = setInterval(() => this.tick(), 1000);
  }

  close() { clearInterval(this.timer); }

  save() {
    const keep = [...this.items.values()].filter((i) => i.state === 'pending').map(({ id, conv, text, ts, kind }) => ({ id, conv, text, ts, kind }));
    try { sessionStorage.setItem(this.key, JSON.stringify(keep)); } catch { /* full */ }
  }

  forConv(conv) { return [...this.items.values()].filter((i) => i.conv === conv).sort((a, b) => a.ts - b.ts); }

  // add sends a reply, or (kind "note") an internal note for agents only.
  add(conv, text, kind = 'message') {
    const it = { id: newID(), conv, text, kind, ts: Date.now(), state: 'pending', sentAt: 0 };
    this.items.set(it.id, it);
    this.save();
    this.push(it);
    this.changed(conv);
    return it;
  }

  push(it) {
    if (it.state !== 'pending') return;
    if (this.sendFrame({ type: it.kind === 'note' ? 'note' : 'message', conversation_id: it.conv, id: it.id, text: it.text })) it.sentAt = Date.now();
  }

  // flush sends everything pending, oldest first (after a (re)connect).
  flush() {
    for (const it of [...this.items.values()].sort((a, b) => a.ts - b.ts)) {
      it.sentAt = 0;
      this.push(it);
    }
  }

  tick() {
    const now = Date.now();
    for (const it of this.items.values()) {
      if (it.state !== 'pending') continue;
      if (it.retryAt) {
        if (now >= it.retryAt) { it.retryAt = 0; this.push(it); }
        continue;
      }
      if (!it.sentAt || now - it.sentAt > RESEND_MS) this.push(it);
    }
  }

  // acked: the relay stored it as seq.
  acked(id, seq) {
    const it = this.items.get(id);
    if (!it) return null;
    this.items.delete(id);
    this.save();
    this.changed(it.conv);
    return { ...it, seq };
  }

  // stored: its message frame arrived (it may come before the ack).
  stored(id) {
    const it = this.items.get(id);
    if (!it) return;
    this.items.delete(id);
    this.save();
    this.changed(it.conv);
  }

  // refused: an error frame named this id.
  refused(id, code, message) {
    const it = this.items.get(id);
    if (!it) return false;
    if (RETRYABLE.has(code)) {
      it.retryAt = Date.now() + RETRY_MS;
    } else {
      it.state = 'failed';
      it.error = message || code;
      this.save();
      announce(`Not sent: ${it.error}`);
    }
    this.changed(it.conv);
    return true;
  }

  retry(id) {
    const it = this.items.get(id);
    if (!it) return;
    it.state = 'pending';
    it.error = '';
    it.sentAt = 0;
    this.save();
    this.push(it);
    this.changed(it.conv);
  }

  discard(id) {
    const it = this.items.get(id);
    if (!it) return;
    this.items.delete(id);
    this.save();
    this.changed(it.conv);
  }
}
