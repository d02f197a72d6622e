// The agent socket, GET /v1/agent/ws: says hello, hands every frame to
// onFrame, and reconnects with exponential backoff and full jitter until
// stopped. Close code 4001 (the session ended) never reconnects. A socket
// that has been silent for 2.5 heartbeats (the welcome's ping_ms) is given
// up: a frozen relay or a dead path never sends a close.

export const CLOSE_SIGNED_OUT = 4001;

const BASE_MS = 500;
const MAX_MS = 15_000;

export class AgentSocket {
  // handlers: onFrame(f), onState(state, info) with state in
  // connecting | open | waiting | offline | stopped, onClose(code, reason).
  constructor(handlers) {
    this.h = handlers;
    this.ws = null;
    this.ready = false; // welcome received
    this.attempt = 0;
    this.timer = 0;
    this.stopped = true;
    this.silence = 0; // ms without a frame before the socket counts as dead
    this.dog = 0;
  }

  get url() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/agent/ws';
  }

  start() {
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.dog);
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) ws.close(1000, 'bye');
    this.h.onState('stopped');
  }

  // drop closes the current socket and reconnects (browser went offline,
  // or the caller wants a fresh session).
  drop(reconnect = true) {
    clearTimeout(this.dog);
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) {
      ws.close(1000, 'reconnect');
      this.h.onClose(1000, 'dropped');
    }
    clearTimeout(this.timer);
    if (this.stopped) return;
    if (reconnect && navigator.onLine !== false) this.connect();
    else this.h.onState('offline');
  }

  // now retries at once (back online, or the user asked).
  now() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    clearTimeout(this.dog);
    this.silence = 0;
    if (this.stopped) return;
    this.h.onState('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.schedule();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      // The hello carries our presence and, per conversation we hold, the
      // last seq we have, so the relay routes nothing to us while we are
      // away and replays only what we missed.
      ws.send(JSON.stringify({ type: 'hello', ...(this.h.hello ? this.h.hello() : {}) }));
    };
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      this.heard(ws);
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (!f || typeof f.type !== 'string' || f.type === 'ping') return;
      if (f.type === 'welcome') {
        this.ready = true;
        this.attempt = 0;
        this.silence = f.ping_ms > 0 ? f.ping_ms * 2.5 : 0;
        this.heard(ws);
        this.h.onState('open');
      }
      this.h.onFrame(f);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      clearTimeout(this.dog);
      this.ws = null;
      this.ready = false;
      this.h.onClose(e.code, e.reason);
      if (e.code === CLOSE_SIGNED_OUT) { this.stopped = true; return; }
      this.schedule();
    };
  }

  // heard restarts the silence timer (after the welcome, on every frame).
  heard(ws) {
    clearTimeout(this.dog);
    if (this.silence) this.dog = setTimeout(() => this.silent(ws), this.silence);
  }

  // silent gives up a socket that stopped talking: its handlers go first,
  // since the close handshake on a dead path can hang for a minute.
  silent(ws) {
    if (this.ws !== ws) return;
    ws.onmessage = ws.onclose = null;
    this.ws = null;
    this.ready = false;
    ws.close(1000, 'no heartbeat');
    this.h.onClose(1006, 'no heartbeat');
    this.schedule();
  }

  schedule() {
    if (this.stopped) return;
    if (navigator.onLine === false) { this.h.onState('offline'); return; }
    const cap = Math.min(MAX_MS, BASE_MS * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 10);
    const delay = Math.round(cap / 2 + Math.random() * cap / 2);
    this.h.onState('waiting', delay);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  // send writes a frame when the session is up; false otherwise.
  send(f) {
    if (!this.ws || !this.ready || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(f));
    return true;
  }
}
