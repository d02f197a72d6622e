// The visitor panel's context (docs/console.md, "The visitor panel"): what
// shared/context.js shows of the visitor, and the same person's earlier
// conversations (each opens here), from GET
// /v1/agent/conversations/{id}/visitor.

import { h, clear, dateTime, clip } from '../shared/dom.js';
import { contextRows, localTime, pageNode as pageLine } from '../shared/context.js';
import * as api from '../shared/api.js';

const LOCAL_EVERY_MS = 30_000; // the visitor's clock moves on while the panel is open

// pageNode is the page a visitor's message was written on, under it.
export const pageNode = (m) => (m.from === 'visitor' && m.page_url ? pageLine(m.page_url, m.page_title) : null);

export class VisitorPanel {
  // el: the panel's container; open(convID): opens a conversation here.
  constructor({ el, open }) {
    this.el = el;
    this.open = open;
    this.conv = '';
    this.profile = null;
    this.timer = 0;
    this.seq = 0;
  }

  // show loads the profile of conversation c's visitor (null: none).
  async show(c) {
    clearInterval(this.timer);
    if (!c) { this.conv = ''; clear(this.el); return; }
    if (c.id !== this.conv) { this.profile = null; clear(this.el); }
    this.conv = c.id;
    const seq = ++this.seq;
    this.el.setAttribute('aria-busy', 'true');
    let p;
    try {
      p = await api.get(`/v1/agent/conversations/${encodeURIComponent(c.id)}/visitor`);
    } catch (e) {
      if (seq !== this.seq) return;
      this.el.removeAttribute('aria-busy');
      this.el.replaceChildren(h('p', { class: 'muted' }, `Visitor details could not be loaded: ${e.message}`));
      return;
    }
    if (seq !== this.seq) return; // another conversation was opened meanwhile
    this.profile = p;
    this.render();
    this.el.removeAttribute('aria-busy');
    if (p.context?.time_zone) this.timer = setInterval(() => this.tick(), LOCAL_EVERY_MS);
  }

  tick() {
    const tz = this.profile?.context?.time_zone;
    const n = this.el.querySelector('[data-local-time]');
    if (tz && n) n.textContent = localTime(tz);
  }

  render() {
    const p = this.profile;
    const rows = contextRows(p.context, p.created_at ? Date.parse(p.created_at) : 0);
    const out = [];
    if (p.context) out.push(h('dl', { class: 'traits context' }, rows));
    else out.push(h('p', { class: 'muted' }, 'No browser details for this visitor (from before they were kept).'));
    out.push(this.earlier(p));
    this.el.replaceChildren(...out);
  }

  earlier(p) {
    const how = { verified_user_id: 'the same verified user id', user_id: 'the same user id (not verified)', email: 'the same email (not verified)' }[p.matched_by];
    const list = p.earlier || [];
    const title = h('h4', { id: 'earlier-title' }, `Earlier conversations (${list.length})`);
    if (!how) return h('section', { class: 'earlier', 'aria-labelledby': 'earlier-title' }, title, h('p', { class: 'muted' }, 'Identify visitors (Kefu.identify with a user id or an email) to see their other conversations.'));
    if (!list.length) return h('section', { class: 'earlier', 'aria-labelledby': 'earlier-title' }, title, h('p', { class: 'muted' }, `None found with ${how}.`));
    return h('section', { class: 'earlier', 'aria-labelledby': 'earlier-title' }, title,
      h('p', { class: 'muted' }, `Found by ${how}.`),
      h('ul', null, list.map((e) => {
        const at = Date.parse(e.updated_at);
        const label = `${e.status === 'closed' ? 'Closed' : 'Open'}, ${dateTime(at)}`;
        return h('li', null, h('button', { type: 'button', class: 'earlier-open', dataset: { conv: e.conversation_id }, onclick: () => this.open(e.conversation_id) },
          h('span', { class: 'earlier-when' }, label),
          e.preview ? h('span', { class: 'earlier-preview', dir: 'auto' }, clip(e.preview, 90)) : null));
      })));
  }
}
