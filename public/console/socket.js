// The agent socket, GET /v1/agent/ws: says hello, hands every frame to
// onFrame, and reconnects with exponential backoff and full jitter until
// stopped. Close code 4001 (the session ended) never reconnects.

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
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) ws.close(1000, 'bye');
    this.h.onState('stopped');
  }

  // drop closes the current socket and reconnects (browser went offline,
  // or the caller wants a fresh session).
  drop(reconnect = true) {
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
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (!f || typeof f.type !== 'string') return;
      if (f.type === 'welcome') {
        this.ready = true;
        this.attempt = 0;
        this.h.onState('open');
      }
      this.h.onFrame(f);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      this.h.onClose(e.code, e.reason);
      if (e.code === CLOSE_SIGNED_OUT) { this.stopped = true; return; }
      this.schedule();
    };
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
