// The inbox: tabs Queue / Mine / All with counts, and the list of
// conversations of the chosen tab. Entries are kept by id and updated in
// place, so a conversation keeps its focus while the list reorders.

import { $, h, clip, when, fullTime } from '../shared/dom.js';
import { tagChips } from './search.js';

const TABS = ['queue', 'mine', 'all'];

export function handlerLabel(model, c) {
  if (c.status === 'closed') return 'Closed';
  if (c.handler === 'queue') return 'Queue';
  if (c.handler === 'agent') return model.me && c.agentId === model.me.id ? 'You' : (c.handlerName || 'An agent');
  return 'AI';
}

export function visitorLabel(c) {
  const t = c.traits || {};
  return t.name || t.email || c.contact?.name || c.contact?.email || (c.visitorId ? `Visitor ${c.visitorId.slice(0, 6)}` : 'Visitor');
}

export class Inbox {
  constructor(model, onSelect, tagsOf = () => []) {
    this.model = model;
    this.onSelect = onSelect;
    this.tagsOf = tagsOf; // a conversation's tags (search.js)
    this.tab = 'mine';
    this.selected = '';
    this.list = $('#list');
    this.entries = new Map(); // id → {li, btn, parts}
    this.queued = false;
    for (const b of document.querySelectorAll('[role=tab]')) {
      b.addEventListener('click', () => this.setTab(b.dataset.tab, false));
      b.addEventListener('keydown', (e) => this.tabKey(e));
    }
  }

  setTab(tab, focus) {
    if (!TABS.includes(tab)) return;
    this.tab = tab;
    for (const b of document.querySelectorAll('[role=tab]')) {
      const on = b.dataset.tab === tab;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    }
    $('#list-panel').setAttribute('aria-labelledby', 'tab-' + tab);
    this.render();
  }

  tabKey(e) {
    const i = TABS.indexOf(this.tab);
    let next = null;
    if (e.key === 'ArrowRight') next = TABS[(i + 1) % TABS.length];
    else if (e.key === 'ArrowLeft') next = TABS[(i + TABS.length - 1) % TABS.length];
    else if (e.key === 'Home') next = TABS[0];
    else if (e.key === 'End') next = TABS[TABS.length - 1];
    if (next) { e.preventDefault(); this.setTab(next, true); }
  }

  inTab(c, tab) {
    const m = this.model;
    if (tab === 'queue') return m.inQueue(c);
    if (tab === 'mine') return m.isMine(c);
    return c.listed;
  }

  // schedule batches renders to one per frame.
  schedule() {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => { this.queued = false; this.render(); });
  }

  ordered(tab) {
    const out = [...this.model.convs.values()].filter((c) => this.inTab(c, tab));
    // The queue is first come, first served; the others newest first.
    out.sort(tab === 'queue' ? (a, b) => a.updatedAt - b.updatedAt : (a, b) => b.updatedAt - a.updatedAt);
    return out;
  }

  render() {
    const m = this.model;
    for (const tab of TABS) {
      const n = [...m.convs.values()].filter((c) => this.inTab(c, tab)).length;
      const el = document.querySelector(`[data-count=${tab}]`);
      if (el.textContent !== String(n)) el.textContent = String(n);
    }
    const list = this.ordered(this.tab);
    const keep = new Set(list.map((c) => c.id));
    const focused = document.activeElement?.closest?.('.entry')?.dataset.conv || '';
    for (const [id, e] of this.entries) if (!keep.has(id)) { e.li.remove(); this.entries.delete(id); }
    const lis = list.map((c) => this.entry(c).li);
    const same = lis.length === this.list.children.length && lis.every((li, i) => this.list.children[i] === li);
    if (!same) this.list.replaceChildren(...lis);
    $('#list-empty').hidden = lis.length > 0;
    $('#list-empty').textContent = { queue: 'Nobody is waiting.', mine: 'No conversations assigned to you.', all: 'No conversations yet.' }[this.tab];
    if (focused && document.activeElement === document.body) this.entries.get(focused)?.btn.focus();
  }

  entry(c) {
    let e = this.entries.get(c.id);
    if (!e) {
      const parts = {
        name: h('span', { class: 'e-name', dir: 'auto' }),
        time: h('time', { class: 'e-time' }),
        preview: h('span', { class: 'e-preview', dir: 'auto' }),
        handler: h('span', { class: 'e-handler' }),
        status: h('span', { class: 'e-status' }),
        unread: h('span', { class: 'e-unread' }),
        tags: tagChips([]),
      };
      // The button's name is what it shows, in reading order, with
      // punctuation only a screen reader hears between the parts.
      const pause = (t) => h('span', { class: 'sr-only' }, t);
      const btn = h('button', { type: 'button', class: 'entry', dataset: { conv: c.id } },
        h('span', { class: 'e-top' }, parts.name, pause(', '), parts.time),
        pause('. '), parts.preview, pause('. '),
        h('span', { class: 'e-bottom' }, parts.handler, parts.status, parts.unread, parts.tags));
      btn.addEventListener('click', () => this.onSelect(c.id, true));
      const li = h('li', null, btn);
      e = { li, btn, parts, sig: '' };
      this.entries.set(c.id, e);
    }
    const m = this.model;
    const unread = m.isMine(c) ? m.unread(c) : (m.inQueue(c) && !c.seen ? 1 : 0);
    const name = visitorLabel(c);
    const preview = clip(c.preview, 140);
    const handler = handlerLabel(m, c);
    const tags = this.tagsOf(c.id);
    const sig = [name, preview, handler, c.status, c.handler, unread, c.updatedAt, c.id === this.selected, tags.join(' ')].join('\u0000');
    if (sig === e.sig) return e;
    e.sig = sig;
    const p = e.parts;
    p.name.textContent = name;
    p.time.textContent = when(c.updatedAt);
    p.time.dateTime = c.updatedAt ? new Date(c.updatedAt).toISOString() : '';
    p.time.title = fullTime(c.updatedAt);
    p.preview.textContent = preview || '…';
    p.handler.textContent = handler;
    p.handler.className = 'e-handler h-' + (c.status === 'closed' ? 'closed' : c.handler);
    p.status.textContent = c.status === 'closed' ? '' : c.handler === 'queue' ? 'waiting' : '';
    p.unread.replaceChildren(...(unread ? [h('span', { class: 'sr-only' }, ', '), String(unread), h('span', { class: 'sr-only' }, ' unread')] : []));
    p.unread.hidden = !unread;
    const chips = tagChips(tags);
    p.tags.replaceWith(chips);
    p.tags = chips;
    e.btn.classList.toggle('unread', unread > 0);
    e.btn.classList.toggle('closed', c.status === 'closed');
    if (c.id === this.selected) e.btn.setAttribute('aria-current', 'true'); else e.btn.removeAttribute('aria-current');
    return e;
  }

  select(id) {
    this.selected = id;
    this.schedule();
  }

  // step moves the selection up or down the current list (Alt+↑/↓).
  step(dir) {
    const list = this.ordered(this.tab);
    if (!list.length) return;
    let i = list.findIndex((c) => c.id === this.selected);
    i = i < 0 ? 0 : Math.min(list.length - 1, Math.max(0, i + dir));
    this.onSelect(list[i].id, false);
    this.entries.get(list[i].id)?.btn.focus();
  }
}
