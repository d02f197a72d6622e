// Tags on conversations and the conversation search (docs/console.md,
// "Tags and search"). Tags: the bar under the open conversation's title
// (add with Enter, suggestions from the tags in use; remove with × or
// Backspace in the empty box), the inbox entries, and the `tags` frames
// every console gets. Search: the box above the inbox tabs, debounced,
// with filters by state, tag, agent and dates; results replace the list,
// show the message the words matched (the matched words in <mark>, built
// as DOM nodes: message text is never parsed as HTML) and open the
// conversation.

import * as api from '../shared/api.js';
import { $, h, clip, when, fullTime, announce } from '../shared/dom.js';

const DEBOUNCE_MS = 250;
const FILTERS = [['status', '#search-status-filter'], ['tag', '#search-tag'], ['agent', '#search-agent'], ['from', '#search-from'], ['to', '#search-to']];
const WHO = { visitor: 'Visitor', agent: 'Agent', bot: 'AI' };

export class Tags {
  constructor({ toast, changed }) {
    this.toast = toast;
    this.changed = changed; // (convID) → the views showing it redraw
    this.byConv = new Map();
    this.inUse = []; // [{tag, count}], most used first
    this.conv = '';
    this.bar = $('#tagbar');
    this.list = $('#tag-list');
    this.input = $('#tag-input');
    this.input.addEventListener('keydown', (e) => this.key(e));
    $('#tag-form').addEventListener('submit', (e) => { e.preventDefault(); this.add(this.input.value); });
  }

  of(id) { return this.byConv.get(id) || []; }

  // load reads every tagged conversation and the tags in use (sign-in,
  // and after each reconnect: changes meanwhile came to no socket).
  async load() {
    try {
      const r = await api.get('/v1/agent/tags');
      const before = new Set(this.byConv.keys());
      this.byConv = new Map(Object.entries(r.conversations || {}));
      this.inUse = r.tags || [];
      for (const id of new Set([...before, ...this.byConv.keys()])) this.changed(id);
      this.suggest();
      this.render();
    } catch (e) {
      if (e.status !== 401) this.toast(`Could not read the tags (${e.message}).`);
    }
  }

  // frame applies a `tags` frame: another console (or this one) changed a
  // conversation's tags.
  frame(f) {
    const old = this.of(f.conversation_id);
    const next = Array.isArray(f.tags) ? f.tags : [];
    if (next.length) this.byConv.set(f.conversation_id, next); else this.byConv.delete(f.conversation_id);
    const counts = new Map(this.inUse.map((t) => [t.tag, t.count]));
    for (const t of old) counts.set(t, (counts.get(t) || 0) - 1);
    for (const t of next) counts.set(t, (counts.get(t) || 0) + 1);
    this.inUse = [...counts].filter(([, n]) => n > 0).map(([tag, count]) => ({ tag, count }))
      .sort((a, b) => b.count - a.count || a.tag.localeCompare(b.tag));
    this.suggest();
    this.changed(f.conversation_id);
    if (f.conversation_id === this.conv) this.render();
  }

  show(id) {
    this.conv = id || '';
    this.bar.hidden = !id;
    this.input.value = '';
    this.render();
  }

  render() {
    if (!this.conv) return;
    const tags = this.of(this.conv);
    this.list.replaceChildren(...tags.map((t) => h('li', { class: 'tagchip' },
      h('span', { dir: 'auto' }, t),
      h('button', { type: 'button', class: 'tag-x', 'aria-label': `Remove tag ${t}`, title: `Remove tag ${t}`, onclick: () => this.change([], [t]) }, '×'))));
    $('#tag-none').hidden = tags.length > 0;
  }

  suggest() {
    $('#tag-suggestions').replaceChildren(...this.inUse.map((t) => h('option', { value: t.tag }, `${t.tag} (${t.count})`)));
  }

  key(e) {
    if (e.key === 'Backspace' && !this.input.value) {
      const tags = this.of(this.conv);
      if (tags.length) { e.preventDefault(); this.change([], [tags[tags.length - 1]]); }
    }
  }

  add(text) {
    const t = text.trim();
    if (!t) return;
    this.change([t], []).then((ok) => { if (ok) this.input.value = ''; });
  }

  async change(add, remove) {
    const id = this.conv;
    if (!id) return false;
    try {
      const r = await api.post(`/v1/agent/conversations/${encodeURIComponent(id)}/tags`, { add, remove });
      this.frame({ conversation_id: id, tags: r.tags });
      announce(add.length ? `Tag ${add.join(', ')} added.` : `Tag ${remove.join(', ')} removed.`);
      if (!add.length) this.input.focus();
      return true;
    } catch (e) {
      this.toast(e.message || 'The tags could not be changed.');
      return false;
    }
  }
}

export class Search {
  constructor({ tags, agents, open }) {
    this.tags = tags;
    this.agents = agents; // () → [{id, name}]
    this.open = open; // (convID) → opens it
    this.seq = 0;
    this.timer = 0;
    this.active = false;
    this.q = $('#search-q');
    this.results = $('#search-results');
    this.status = $('#search-status');
    $('#search').addEventListener('submit', (e) => { e.preventDefault(); this.run(); });
    this.q.addEventListener('input', () => this.later());
    this.q.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { e.preventDefault(); this.clear(); }
      if (e.key === 'ArrowDown') { e.preventDefault(); this.results.querySelector('button')?.focus(); }
    });
    this.results.addEventListener('keydown', (e) => this.listKey(e));
    for (const [, id] of FILTERS) $(id).addEventListener('change', () => this.later());
    $('#search-filters-btn').addEventListener('click', () => this.toggleFilters());
    $('#search-clear').addEventListener('click', () => { this.clear(); this.q.focus(); });
    document.addEventListener('keydown', (e) => {
      const t = e.target;
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || $('#app').hidden) return;
      if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || t?.isContentEditable) return;
      e.preventDefault();
      this.q.focus();
    });
  }

  toggleFilters() {
    const btn = $('#search-filters-btn');
    const open = btn.getAttribute('aria-expanded') !== 'true';
    btn.setAttribute('aria-expanded', String(open));
    $('#search-filters').hidden = !open;
    if (open) this.fillFilters();
  }

  // fillFilters offers the tags in use and the agents, keeping the choice.
  fillFilters() {
    const tag = $('#search-tag');
    const keepTag = tag.value;
    tag.replaceChildren(h('option', { value: '' }, 'Any tag'), ...this.tags.inUse.map((t) => h('option', { value: t.tag }, t.tag)));
    tag.value = keepTag;
    const agent = $('#search-agent');
    const keepAgent = agent.value;
    agent.replaceChildren(h('option', { value: '' }, 'Anyone'), ...this.agents().map((a) => h('option', { value: a.id }, a.name || a.username || a.id)));
    agent.value = keepAgent;
  }

  params() {
    const p = new URLSearchParams();
    const q = this.q.value;
    if (q.trim()) p.set('q', q.trimStart());
    for (const [k, id] of FILTERS) {
      const v = $(id).value;
      if (v) p.set(k, v);
    }
    return p;
  }

  later() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), DEBOUNCE_MS);
  }

  clear() {
    clearTimeout(this.timer);
    this.seq++;
    this.q.value = '';
    for (const [, id] of FILTERS) $(id).value = '';
    this.setActive(false);
  }

  setActive(on) {
    this.active = on;
    $('#search-panel').hidden = !on;
    $('#list-panel').hidden = on;
    $('.tabs').hidden = on;
    $('#search-clear').hidden = !on;
    if (!on) { this.results.replaceChildren(); this.status.textContent = ''; }
  }

  async run() {
    clearTimeout(this.timer);
    const p = this.params();
    const seq = ++this.seq;
    if (![...p.keys()].length) { this.setActive(false); return; }
    this.setActive(true);
    this.status.textContent = 'Searching…';
    p.set('limit', '50');
    let r;
    try {
      r = await api.get('/v1/agent/search?' + p.toString());
    } catch (e) {
      if (seq !== this.seq) return;
      this.results.replaceChildren();
      this.status.textContent = e.status === 503 ? 'The search is getting ready (the relay just started). Try again in a moment.' : `Search failed: ${e.message}`;
      return;
    }
    if (seq !== this.seq) return; // a newer search is under way
    this.show(r);
  }

  show(r) {
    const found = r.conversations || [];
    this.results.replaceChildren(...found.map((c) => this.entry(c)));
    this.status.textContent = !found.length ? 'No conversation matches.'
      : r.total > found.length ? `${r.total} conversations match; the best ${found.length} are shown.`
        : `${r.total} conversation${r.total === 1 ? '' : 's'} found.`;
  }

  entry(c) {
    const tags = c.tags || [];
    const agent = this.agents().find((a) => a.id === c.agent_id);
    const state = c.status === 'closed' ? 'Closed' : c.handler === 'queue' ? 'Queue'
      : c.handler === 'agent' ? (agent?.name || agent?.username || 'An agent') : 'AI';
    const btn = h('button', { type: 'button', class: 'entry result', dataset: { conv: c.conversation_id } },
      h('span', { class: 'e-top' },
        h('span', { class: 'e-name' }, `Visitor ${String(c.visitor_id || '').slice(0, 6)}`),
        h('span', { class: 'sr-only' }, ', '),
        h('time', { class: 'e-time', datetime: c.updated_at ? new Date(c.updated_at).toISOString() : '', title: fullTime(c.updated_at) }, when(c.updated_at))),
      h('span', { class: 'sr-only' }, '. '),
      c.snippet ? snippet(c.snippet) : h('span', { class: 'e-preview', dir: 'auto' }, clip(c.preview, 140) || '…'),
      h('span', { class: 'sr-only' }, '. '),
      h('span', { class: 'e-bottom' },
        h('span', { class: 'e-handler h-' + (c.status === 'closed' ? 'closed' : c.handler) }, state),
        tagChips(tags)));
    btn.addEventListener('click', () => this.open(c.conversation_id));
    return h('li', null, btn);
  }

  listKey(e) {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Escape') return;
    e.preventDefault();
    if (e.key === 'Escape') { this.q.focus(); return; }
    const btns = [...this.results.querySelectorAll('button')];
    const i = btns.indexOf(document.activeElement);
    const next = e.key === 'ArrowDown' ? btns[i + 1] : (i > 0 ? btns[i - 1] : null);
    if (next) next.focus(); else if (e.key === 'ArrowUp') this.q.focus();
  }
}

// snippet shows the message a search matched, its matched words marked:
// each part is a text node or a <mark> holding one (never innerHTML).
export function snippet(sn) {
  const who = WHO[sn.from] || '';
  return h('span', { class: 'e-preview e-snippet', dir: 'auto' },
    who ? h('span', { class: 'e-who' }, `${who}: `) : null,
    ...(sn.parts || []).map((p) => (p.match ? h('mark', null, p.text) : document.createTextNode(p.text))));
}

// tagChips shows tags in a list entry (read by screen readers as "tags:").
export function tagChips(tags) {
  if (!tags.length) return h('span', { class: 'e-tags', hidden: true });
  return h('span', { class: 'e-tags' }, h('span', { class: 'sr-only' }, ', tags: '),
    ...tags.map((t) => h('span', { class: 'chip', dir: 'auto' }, t)));
}
