// Teach the bot (issue 14): under each question of the selected
// conversation that no FAQ intent answered, the intents it came closest to
// (one click adds it to that intent as an example) and "New intent…",
// which makes one whose answer is a reply of yours. The relay refits the
// model and every widget loads it. Admins always; agents when an admin
// allowed it (GET /v1/learn/conversations/{id} says so). docs/console.md.

import * as api from '../shared/api.js';
import { h, clip } from '../shared/dom.js';

const REFRESH_MS = 600; // new messages arrive in bursts: look again once

export class Teach {
  // thread: the Thread (its c, nodes and toast).
  constructor(thread) {
    this.thread = thread;
    this.info = null; // {conv, allowed, questions, replies, intents}
    this.timer = 0;
    this.seq = 0; // answers to older loads are ignored
  }

  async load(c) {
    clearTimeout(this.timer);
    const n = ++this.seq;
    if (!c) { this.info = null; return; }
    let info;
    try {
      info = await api.get(`/v1/learn/conversations/${encodeURIComponent(c.id)}`);
    } catch {
      return; // an older relay, or gone: nothing to teach from
    }
    if (n !== this.seq || this.thread.c?.id !== c.id) return;
    this.info = { conv: c.id, ...info };
    this.draw();
  }

  // changed: a message of the selected conversation arrived.
  changed(m) {
    if (!this.info?.allowed || (m.from !== 'visitor' && m.from !== 'agent' && m.from !== 'bot')) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(this.thread.c), REFRESH_MS);
  }

  // draw puts a "teach" row under each missed question shown.
  draw() {
    for (const old of this.thread.el.stored.querySelectorAll('.teach')) old.remove();
    const info = this.info;
    if (!info?.allowed || info.conv !== this.thread.c?.id) return;
    for (const q of info.questions || []) {
      const node = this.thread.nodes.get(q.seq);
      if (node) node.append(this.row(q));
    }
  }

  row(q) {
    const info = this.info;
    const row = h('div', { class: 'teach', role: 'group', 'aria-label': 'Teach the bot this question' },
      h('span', { class: 'teach-label' }, 'Teach the bot:'));
    const names = new Set();
    for (const c of q.candidates || []) {
      names.add(c.intent);
      row.append(h('button', {
        type: 'button', class: 'chip', dataset: { intent: c.intent },
        title: `Add "${clip(q.text, 80)}" to the intent ${c.intent} as an example`,
        'aria-label': `Add this question to the intent ${c.intent}`,
        onclick: (e) => this.addTo(q, c.intent, e.currentTarget),
      }, `+ ${c.intent}`));
    }
    const others = (info.intents || []).filter((n) => !names.has(n));
    if (others.length) {
      const sel = h('select', { 'aria-label': 'Add this question to another intent' },
        h('option', { value: '' }, 'Add to…'), ...others.map((n) => h('option', { value: n }, n)));
      sel.addEventListener('change', () => { if (sel.value) this.addTo(q, sel.value, sel); });
      row.append(sel);
    }
    row.append(h('button', { type: 'button', class: 'chip new', onclick: () => this.newForm(q, row) }, 'New intent…'));
    return row;
  }

  async addTo(q, intent, control) {
    control.disabled = true;
    try {
      const r = await api.post('/v1/learn/example', { conversation_id: this.info.conv, seq: q.seq, intent });
      this.thread.toast(r.added ? `Added to ${intent}: the bot answers it from now on.` : `${intent} already has this question.`);
      this.load(this.thread.c);
    } catch (e) {
      control.disabled = false;
      this.thread.toast(`Not added: ${e.message}`);
    }
  }

  newForm(q, row) {
    if (row.querySelector('form')) return;
    const replies = this.info.replies?.filter((r) => r.seq > q.seq) || [];
    if (!replies.length) {
      this.thread.toast('Reply to the visitor first: your reply becomes the new intent\'s answer.');
      return;
    }
    const id = `teach-${q.seq}`;
    const name = h('input', { id: `${id}-name`, required: true, maxlength: 64, autocomplete: 'off', placeholder: 'e.g. gift_wrap' });
    const answer = h('select', { id: `${id}-answer` },
      ...replies.map((r) => h('option', { value: String(r.seq) }, clip(r.text, 80))));
    const cancel = h('button', { type: 'button', class: 'link' }, 'Cancel');
    const form = h('form', { class: 'teach-new' },
      h('label', { for: name.id }, 'Name'), name,
      h('label', { for: answer.id }, 'Answer with'), answer,
      h('button', { type: 'submit' }, 'Create intent'), cancel);
    cancel.addEventListener('click', () => form.remove());
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const btn = form.querySelector('[type=submit]');
      btn.disabled = true;
      try {
        await api.post('/v1/learn/intent', { conversation_id: this.info.conv, seq: q.seq, name: name.value.trim(), reply_seq: Number(answer.value) });
        this.thread.toast(`Intent ${name.value.trim()} created: the bot answers this question from now on.`);
        this.load(this.thread.c);
      } catch (err) {
        btn.disabled = false;
        this.thread.toast(`Not created: ${err.message}`);
      }
    });
    row.append(form);
    name.focus();
  }
}
