// Files in the console: how a message's file shows (a thumbnail opening
// full size in a new tab, where the relay serves it sandboxed; or a
// download), and sending files by picker, paste or drop, with progress,
// going on from where the relay stands after a dropped connection
// (docs/protocol.md, "Attachments").

import { h, clip } from '../shared/dom.js';
import { csrfToken } from '../shared/api.js';

const base = (conv) => `/v1/agent/conversations/${encodeURIComponent(conv)}`;

export const fileURL = (conv, a, thumb) => `${base(conv)}/attachments/${encodeURIComponent(a.id)}${thumb ? '?thumb=1' : ''}`;

export function size(n) {
  if (n >= 1048576) return `${(n / 1048576).toFixed(n % 1048576 ? 1 : 0)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}

// attachmentNode shows the file a message carries.
export function attachmentNode(m) {
  const a = m.attachment;
  const conv = m.conversation_id;
  const full = fileURL(conv, a, false);
  if (/^image\//.test(a.type)) {
    const k = a.width && a.height ? Math.min(1, 240 / Math.max(a.width, a.height)) : 0;
    return h('a', { class: 'att att-img', href: full, target: '_blank', rel: 'noopener noreferrer', title: `${a.name} (${a.width}×${a.height}, ${size(a.size)}): open full size` },
      h('img', {
        src: fileURL(conv, a, a.thumb), alt: a.name, loading: 'lazy',
        width: k ? Math.round(a.width * k) : null, height: k ? Math.round(a.height * k) : null,
      }));
  }
  return h('a', { class: 'att att-file', href: full, download: a.name, rel: 'noopener noreferrer', title: `Download ${a.name}` },
    h('span', { class: 'att-icon', 'aria-hidden': 'true' }, a.type === 'application/pdf' ? 'PDF' : 'TXT'),
    h('span', { class: 'att-name', dir: 'auto' }, a.name),
    h('span', { class: 'att-size' }, size(a.size)));
}

const PART = 256 * 1024;

function newID() {
  const rnd = crypto.getRandomValues(new Uint8Array(9));
  return 'c' + Date.now().toString(36) + [...rnd].map((b) => b.toString(16).padStart(2, '0')).join('');
}

class HTTPFail extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code || '';
    this.retry = status === 0 || status >= 500 || status === 429;
  }
}

async function call(method, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method, credentials: 'same-origin', cache: 'no-store',
      headers: { Accept: 'application/json', ...(method === 'GET' ? {} : { 'X-CSRF-Token': csrfToken() }), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new HTTPFail(0, null);
  }
  let data = null;
  try { data = await res.json(); } catch { /* empty */ }
  if (!res.ok) throw new HTTPFail(res.status, data);
  return data;
}

// Uploads sends files and shows each one's progress in el (the open
// conversation's only); onMessage gets the stored message of a file.
export class Uploads {
  constructor({ el, onMessage, toast }) {
    Object.assign(this, { el, onMessage, toast });
    this.items = new Map(); // id → {id, conv, file, offset, state, error, xhr}
    this.conv = '';
    // One upload at a time, in the order given: files are stored in the
    // order the agent chose them.
    this.queue = Promise.resolve();
  }

  show(conv) {
    this.conv = conv || '';
    this.render();
  }

  send(conv, files) {
    for (const file of files) {
      const it = { id: newID(), conv, file, offset: 0, state: 'sending', error: '', xhr: null };
      this.items.set(it.id, it);
      this.queue = this.queue.then(() => (it.state === 'cancelled' ? undefined : this.run(it)).catch((e) => {
        if (it.state === 'cancelled') return;
        it.state = 'failed';
        it.error = e.message || 'not sent';
      }).finally(() => this.render()));
    }
    this.render();
  }

  render() {
    const rows = [...this.items.values()].filter((it) => it.conv === this.conv);
    this.el.replaceChildren(...rows.map((it) => {
      const pct = Math.round((it.offset / Math.max(1, it.file.size)) * 100);
      return h('article', { class: `msg from-agent mine pending upload${it.state === 'failed' ? ' failed' : ''}`, dataset: { upload: it.id, state: it.state } },
        h('div', { class: 'text', dir: 'auto' }, it.file.name),
        it.state === 'failed' ? null : h('progress', { max: '100', value: String(pct), 'aria-label': `Sending ${clip(it.file.name, 60)}` }),
        h('div', { class: 'meta' },
          it.state === 'failed' ? h('span', { class: 'flag' }, `Not sent: ${it.error}`) : h('span', { class: 'tag' }, `Sending… ${pct} %`),
          h('button', { type: 'button', class: 'link', onclick: () => this.cancel(it) }, it.state === 'failed' ? 'Remove' : 'Cancel')));
    }));
  }

  cancel(it) {
    const was = it.state;
    it.state = 'cancelled';
    it.xhr?.abort();
    this.items.delete(it.id);
    this.render();
    if (was === 'sending') call('POST', `${base(it.conv)}/uploads/${it.id}/cancel`).catch(() => {});
  }

  part(it, blob) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      it.xhr = x;
      x.open('POST', `${base(it.conv)}/uploads/${it.id}?offset=${it.offset}`);
      x.setRequestHeader('Content-Type', 'application/octet-stream');
      x.setRequestHeader('X-CSRF-Token', csrfToken());
      x.timeout = 120_000;
      x.upload.onprogress = (e) => { this.progress(it, it.offset + e.loaded); };
      x.onload = () => {
        let b = null;
        try { b = JSON.parse(x.responseText); } catch { /* not JSON */ }
        if (x.status === 200) resolve(b); else reject(new HTTPFail(x.status, b));
      };
      x.onerror = x.ontimeout = () => reject(new HTTPFail(0, null));
      x.onabort = () => reject(Object.assign(new Error('cancelled'), { cancelled: true }));
      x.send(blob);
    });
  }

  progress(it, at) {
    const row = this.el.querySelector(`[data-upload="${it.id}"]`);
    const pct = Math.min(100, Math.round((at / Math.max(1, it.file.size)) * 100));
    row?.querySelector('progress')?.setAttribute('value', String(pct));
    const tag = row?.querySelector('.tag');
    if (tag) tag.textContent = `Sending… ${pct} %`;
  }

  // run sends the file part by part; trouble that can pass (the network,
  // a busy or restarting relay) is waited out, then the upload goes on
  // from where the relay says it stands.
  async run(it) {
    let tries = 0;
    const again = async (e) => {
      if (!e.retry || it.state === 'cancelled') throw e;
      await new Promise((r) => setTimeout(r, Math.min(15000, 500 * 2 ** Math.min(tries++, 5))));
    };
    let st = null;
    while (!st) {
      try { st = await call('POST', `${base(it.conv)}/uploads`, { id: it.id, name: it.file.name || 'file', size: it.file.size }); } catch (e) { await again(e); }
    }
    it.offset = st.offset;
    const n = Math.min(PART, st.part || PART);
    while (!st.done) {
      if (it.state === 'cancelled') return;
      try {
        st = await this.part(it, it.file.slice(it.offset, it.offset + n));
        it.offset = st.offset;
        tries = 0;
      } catch (e) {
        if (e.cancelled) return;
        if (e.status !== 409) await again(e);
        try {
          st = await call('GET', `${base(it.conv)}/uploads/${it.id}`);
          it.offset = st.offset;
        } catch (e2) {
          if (e2.status === 404 && it.offset + n >= it.file.size) { st = { done: true }; break; }
          if (!e2.retry) throw e2;
          st = { done: false };
        }
      }
    }
    this.items.delete(it.id);
    if (st.message) this.onMessage(st.message);
  }
}
