// The selected conversation: header and actions, history (stored
// messages in seq order with agents' internal notes among them, then AI
// streams, then our unacknowledged replies and files on their way),
// visitor traits, typing, and the composer (a reply or a note).

import { $, h, clear, richText, when, fullTime, clip, announce } from '../shared/dom.js';
import { renderMarkdown, renderInto } from '../shared/markdown.js';
import { handlerLabel, visitorLabel } from './inbox.js';
import { Teach } from './teach.js';
import { attachmentNode, Uploads } from './files.js';
import { VisitorPanel, pageNode } from './visitor.js';

const TYPING_EVERY_MS = 2500; // resend typing:on at most this often while typing
const TYPING_IDLE_MS = 4000; // no keystroke this long: typing:off

export class Thread {
  // ctx: {model, outbox, send(frame) → bool, toast(text), act(kind, conv, extra)}
  constructor(ctx) {
    Object.assign(this, ctx);
    this.c = null;
    this.nodes = new Map(); // seq → element
    this.noteNodes = new Map(); // note id → element
    this.mode = 'reply'; // the composer writes a reply, or an internal note
    this.streamNodes = new Map(); // stream id → element
    this.typingTimer = 0;
    this.typingSentAt = 0;
    this.typingIdle = 0;
    this.typingConv = '';
    this.teach = new Teach(this);
    this.visitor = new VisitorPanel({ el: $('#visitor-context'), open: (id) => { this.showVisitor(false); ctx.open?.(id); } });
    this.el = {
      conv: $('#conv'), placeholder: $('#placeholder'), title: $('#conv-title'), handler: $('#conv-handler'),
      take: $('#take'), transferTo: $('#transfer-to'), transfer: $('#transfer'), close: $('#close'),
      history: $('#history'), stored: $('#stored'), streams: $('#streams'), pending: $('#pending'), older: $('#older'),
      typing: $('#typing'), traits: $('#traits'), noTraits: $('#no-traits'),
      composer: $('#composer'), reply: $('#reply'), hint: $('#compose-hint'), canned: $('#canned'),
      uploads: $('#uploads'), attach: $('#attach'), picker: $('#attach-input'), modes: document.querySelectorAll('[data-mode]'),
    };
    const el = this.el;
    this.uploads = new Uploads({ el: el.uploads, toast: this.toast, onMessage: (m) => this.model.apply(m) });
    // Files by picker, paste into the reply box, or drop on the history.
    const sendFiles = (files) => { if (this.c && files?.length) this.uploads.send(this.c.id, [...files]); };
    el.attach.addEventListener('click', () => el.picker.click());
    el.picker.addEventListener('change', () => { sendFiles(el.picker.files); el.picker.value = ''; });
    el.reply.addEventListener('paste', (e) => {
      if (e.clipboardData?.files?.length) { e.preventDefault(); sendFiles(e.clipboardData.files); }
    });
    const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
    el.history.addEventListener('dragover', (e) => { if (hasFiles(e)) { e.preventDefault(); el.history.classList.add('drop'); } });
    el.history.addEventListener('dragleave', () => el.history.classList.remove('drop'));
    el.history.addEventListener('drop', (e) => {
      el.history.classList.remove('drop');
      if (hasFiles(e)) { e.preventDefault(); sendFiles(e.dataTransfer.files); }
    });
    for (const b of el.modes) b.addEventListener('click', () => this.setMode(b.dataset.mode));
    $('#visitor-toggle').addEventListener('click', (e) => this.showVisitor(e.currentTarget.getAttribute('aria-expanded') !== 'true'));
    el.take.addEventListener('click', () => this.c && this.act('take', this.c.id));
    el.close.addEventListener('click', () => this.c && this.act('close', this.c.id));
    el.transfer.addEventListener('click', () => {
      if (this.c && el.transferTo.value) this.act('transfer', this.c.id, el.transferTo.value);
    });
    el.composer.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    el.reply.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.submit();
      }
    });
    el.reply.addEventListener('input', () => this.typed());
    el.reply.addEventListener('blur', () => this.stopTyping());
    el.canned.addEventListener('change', () => {
      const v = el.canned.selectedOptions[0]?.dataset.text;
      el.canned.value = '';
      if (!v) return;
      const r = el.reply;
      const start = r.selectionStart ?? r.value.length;
      r.setRangeText(v, start, r.selectionEnd ?? start, 'end');
      r.focus();
      this.typed();
    });
  }

  // --- selection ----------------------------------------------------------

  show(c) {
    if (this.c?.id !== c?.id) {
      this.stopTyping();
      this.el.reply.value = this.drafts?.get(c?.id) || '';
    }
    this.c = c;
    this.uploads.show(c?.id);
    this.el.placeholder.hidden = !!c;
    this.el.conv.hidden = !c;
    // Which of the two a narrow screen shows (console.css).
    document.querySelector('#app').dataset.view = c ? 'thread' : 'list';
    if (this.visitor.conv !== (c?.id || '')) this.showVisitor(false);
    this.visitor.show(c);
    if (!c) { this.teach.load(null); return; }
    this.rebuild();
    this.teach.load(c);
    this.header();
    this.traits();
    this.typing();
  }

  rebuild() {
    const { stored, streams, history } = this.el;
    history.setAttribute('aria-busy', 'true');
    clear(stored);
    clear(streams);
    this.nodes.clear();
    this.noteNodes.clear();
    this.streamNodes.clear();
    const frag = document.createDocumentFragment();
    for (const m of this.model.sorted(this.c)) {
      const n = this.msgNode(m);
      this.nodes.set(m.seq, n);
      frag.append(n);
    }
    stored.append(frag);
    this.teach.draw();
    for (const n of [...this.c.notes.values()].sort((a, b) => a.ts - b.ts)) this.placeNote(n);
    for (const [id, s] of this.c.streams) this.stream(id, s);
    this.older();
    this.pending();
    history.setAttribute('aria-busy', 'false');
    history.scrollTop = history.scrollHeight;
  }

  older() {
    this.el.older.hidden = !(this.c.firstShown > 0);
  }

  // --- history ------------------------------------------------------------

  keepBottom(fn) {
    const hs = this.el.history;
    const near = hs.scrollHeight - hs.scrollTop - hs.clientHeight < 80;
    fn();
    if (near) hs.scrollTop = hs.scrollHeight;
  }

  who(m) {
    switch (m.from) {
      case 'visitor': return visitorLabel(this.c);
      case 'agent': return m.author || 'Agent';
      case 'bot': return m.author || 'AI';
      default: return '';
    }
  }

  msgNode(m) {
    if (m.from === 'rating' && m.rating) return this.ratingNode(m);
    const from = ['visitor', 'agent', 'bot', 'system'].includes(m.from) ? m.from : 'bot';
    const mine = from === 'agent' && this.model.me && m.author === this.model.me.name;
    const flags = [];
    if (m.incomplete) flags.push(h('span', { class: 'flag' }, 'answer interrupted'));
    if (from === 'bot' && m.intent) flags.push(h('span', { class: 'tag' }, `FAQ: ${m.intent}`));
    if (from === 'bot' && m.via === 'browser') flags.push(h('span', { class: 'tag' }, 'instant'));
    return h('article', { class: `msg from-${from}${mine ? ' mine' : ''}`, dataset: { seq: m.seq, from, id: m.id || '' } },
      from === 'system' ? null : h('div', { class: 'who', dir: 'auto' }, this.who(m)),
      h('div', { class: 'text', dir: 'auto' }, m.attachment ? attachmentNode(m) : m.from === 'bot' || m.from === 'agent' ? renderMarkdown(m.text) : richText(m.text)),
      h('div', { class: 'meta' },
        m.ts ? h('time', { datetime: new Date(m.ts).toISOString(), title: fullTime(m.ts) }, when(m.ts)) : null,
        flags),
      pageNode(m));
  }

  // showVisitor shows the visitor panel in place of the history where
  // the screen has no room for both (visitor.css), or the history again.
  showVisitor(on) {
    const b = $('#visitor-toggle');
    b.setAttribute('aria-expanded', String(on));
    $('.conv-body').dataset.visitor = on ? 'open' : '';
  }

  // ratingNode is a visitor's rating of the closed conversation.
  ratingNode(m) {
    const n = Math.max(1, Math.min(5, m.rating.score | 0));
    return h('article', { class: 'msg from-rating', dataset: { seq: m.seq, from: 'rating', id: m.id || '' } },
      h('div', { class: 'who' }, `${visitorLabel(this.c)} rated this conversation`),
      h('div', { class: 'text', dir: 'auto' }, h('span', { class: 'stars', 'aria-label': `${n} out of 5` }, '★'.repeat(n) + '☆'.repeat(5 - n)),
        ` ${n}/5`, m.rating.comment ? [' — ', richText(m.rating.comment)] : null),
      h('div', { class: 'meta' }, m.ts ? h('time', { datetime: new Date(m.ts).toISOString(), title: fullTime(m.ts) }, when(m.ts)) : null));
  }

  // noteNode is an agent's internal note: for agents only, and looks it.
  noteNode(n) {
    return h('article', { class: 'msg note', dataset: { note: n.id, from: 'note' } },
      h('div', { class: 'who', dir: 'auto' }, `${n.author || 'Agent'} · internal note`),
      h('div', { class: 'text', dir: 'auto' }, richText(n.text)),
      h('div', { class: 'meta' },
        n.ts ? h('time', { datetime: new Date(n.ts).toISOString(), title: fullTime(n.ts) }, when(n.ts)) : null,
        h('span', { class: 'tag' }, 'only agents see this')));
  }

  // placeNote puts a note after the message it was written after.
  placeNote(n) {
    if (this.noteNodes.has(n.id)) return;
    const node = this.noteNode(n);
    let before = null;
    for (const [seq, el] of this.nodes) if (seq > n.after_seq && (!before || seq < +before.dataset.seq)) before = el;
    this.keepBottom(() => this.el.stored.insertBefore(node, before));
    this.noteNodes.set(n.id, node);
  }

  note(convId, n) {
    if (this.c?.id === convId) this.placeNote(n);
  }

  // message adds a stored message; live ones are announced once (our own
  // replies were announced as we sent them).
  message(m, live) {
    if (!this.c || m.conversation_id !== this.c.id || this.nodes.has(m.seq)) return;
    const mine = m.from === 'agent' && this.model.me && m.author === this.model.me.name;
    if (live && !mine) announce(m.from === 'system' ? m.text : `${this.who(m)}: ${m.text}`);
    const n = this.msgNode(m);
    // Usually the newest; a replay filling a gap goes in seq order.
    let after = null;
    for (const [seq, node] of this.nodes) if (seq > m.seq && (!after || seq < +after.dataset.seq)) after = node;
    this.keepBottom(() => {
      this.el.stored.insertBefore(n, after);
      if (m.stream_id) { this.streamNodes.get(m.stream_id)?.remove(); this.streamNodes.delete(m.stream_id); }
    });
    this.nodes.set(m.seq, n);
    this.older();
    this.typing();
    this.teach.changed(m);
  }

  stream(id, s) {
    let n = this.streamNodes.get(id);
    if (!n) {
      n = h('article', { class: 'msg from-bot streaming', dataset: { stream: id, from: 'bot' }, 'aria-busy': 'true' },
        h('div', { class: 'who' }, 'AI'),
        h('div', { class: 'text', dir: 'auto' }),
        h('div', { class: 'meta' }, h('span', { class: 'tag live' }, 'answering…')));
      this.streamNodes.set(id, n);
      this.keepBottom(() => this.el.streams.append(n));
    }
    if (s.cut && !n.classList.contains('cut')) {
      n.classList.add('cut');
      n.querySelector('.meta').append(h('span', { class: 'flag' }, 'joined mid-answer: the start is not shown'));
    } else if (!s.cut && n.classList.contains('cut')) {
      n.classList.remove('cut');
      n.querySelector('.meta .flag')?.remove();
    }
    this.keepBottom(() => renderInto(n.querySelector('.text'), s.text));
    if (s.done) {
      n.classList.remove('streaming');
      n.querySelector('.live')?.remove();
    }
  }

  delta(convId, id, s) {
    if (this.c?.id === convId) this.stream(id, s);
  }

  // pending draws our replies the relay has not stored yet.
  pending() {
    if (!this.c) return;
    const items = this.outbox.forConv(this.c.id);
    const me = this.model.me?.name || 'You';
    this.keepBottom(() => {
      this.el.pending.replaceChildren(...items.map((it) => h('article', {
        class: `msg ${it.kind === 'note' ? 'note' : 'from-agent'} mine pending${it.state === 'failed' ? ' failed' : ''}`,
        dataset: { pending: it.id, state: it.state },
      },
      h('div', { class: 'who' }, it.kind === 'note' ? `${me} · internal note` : me),
      h('div', { class: 'text', dir: 'auto' }, it.text),
      h('div', { class: 'meta' },
        it.state === 'failed'
          ? [h('span', { class: 'flag' }, `Not sent: ${it.error || 'refused'}`),
            h('button', { type: 'button', class: 'link', onclick: () => this.outbox.retry(it.id) }, 'Retry'),
            h('button', { type: 'button', class: 'link', onclick: () => this.outbox.discard(it.id) }, 'Remove')]
          : h('span', { class: 'tag' }, 'Sending…')))));
    });
  }

  // --- header, traits, typing ----------------------------------------------

  header() {
    const c = this.c;
    if (!c) return;
    const m = this.model;
    const el = this.el;
    el.title.textContent = visitorLabel(c);
    const who = handlerLabel(m, c);
    el.handler.textContent = c.status === 'closed' ? 'Closed — the visitor\'s next message reopens it'
      : c.handler === 'agent' ? (who === 'You' ? 'Assigned to you' : `Assigned to ${who}`)
        : c.handler === 'queue' ? 'Waiting in the queue for a person' : 'The AI is answering';
    el.handler.dataset.handler = c.status === 'closed' ? 'closed' : c.handler;
    const open = c.status === 'open';
    el.take.hidden = !open || m.isMine(c);
    el.take.textContent = c.handler === 'bot' ? 'Take over from the AI' : 'Take over';
    el.close.disabled = !open;
    el.transfer.disabled = !open;
    el.transferTo.disabled = !open;
    el.hint.textContent = !open ? 'Closed: a reply is still delivered.'
      : c.handler === 'bot' ? 'Replying takes over from the AI.'
        : c.handler === 'queue' ? 'Replying takes this chat from the queue.'
          : m.isMine(c) ? '' : `${who}'s chat: replying keeps it theirs.`;
    this.agents();
  }

  agents() {
    const sel = this.el.transferTo;
    const keep = sel.value;
    const me = this.model.me?.id;
    const opts = [h('option', { value: 'queue' }, 'the queue')];
    for (const a of this.model.agents) {
      if (a.id === me) continue;
      const cap = a.capacity || 0;
      opts.push(h('option', { value: a.id, disabled: cap <= 0 }, `${clip(a.name || a.username || a.id, 40)} — ${a.status}, ${a.load || 0}/${cap}`));
    }
    sel.replaceChildren(...opts);
    if ([...sel.options].some((o) => o.value === keep && !o.disabled)) sel.value = keep;
  }

  traits() {
    const c = this.c;
    const t = c.traits || {};
    const keys = Object.keys(t).sort();
    const rows = [];
    if (c.visitorId) rows.push(h('dt', null, 'visitor id'), h('dd', { dir: 'auto' }, c.visitorId));
    // The language the visitor's chat speaks: worth answering in.
    if (c.lang) rows.push(h('dt', null, 'language'), h('dd', null, languageName(c.lang)));
    // The email the visitor left when nobody could answer: replies reach it.
    if (c.contact) {
      rows.push(h('dt', null, 'email (left in the chat)'), h('dd', { dir: 'auto' }, c.contact.email));
      if (c.contact.name) rows.push(h('dt', null, 'name (left in the chat)'), h('dd', { dir: 'auto' }, c.contact.name));
    }
    for (const k of keys) rows.push(h('dt', null, k), h('dd', { dir: 'auto' }, richText(t[k])));
    this.el.traits.replaceChildren(...rows);
    this.el.noTraits.hidden = keys.length > 0 || !!c.contact || !c.watched;
  }

  typing() {
    clearTimeout(this.typingTimer);
    const t = this.c?.typing;
    const left = t ? t.until - Date.now() : 0;
    if (!t || left <= 0) {
      this.el.typing.textContent = '';
      this.el.typing.classList.remove('on');
      return;
    }
    const text = t.who === 'visitor' ? 'The visitor is typing…' : `${t.who} is typing…`;
    if (this.el.typing.textContent !== text) this.el.typing.textContent = text;
    this.el.typing.classList.add('on');
    this.typingTimer = setTimeout(() => this.typing(), left + 50);
  }

  canned(list) {
    const sel = this.el.canned;
    const label = $('#canned-label');
    if (!list || !list.length) { sel.hidden = true; label.hidden = true; return; }
    sel.replaceChildren(h('option', { value: '' }, 'Insert a canned reply…'),
      ...list.map((c, i) => h('option', { value: String(i + 1), dataset: { text: c.text }, title: c.text }, `${clip(c.name, 30)}: ${clip(c.text, 60)}`)));
    sel.hidden = false;
    label.hidden = false;
  }

  // --- composing ------------------------------------------------------------

  // setMode switches the composer between a reply to the visitor and an
  // internal note for agents (the visitor never sees a note, nor that one
  // is being typed).
  setMode(mode) {
    this.mode = mode === 'note' ? 'note' : 'reply';
    if (this.mode === 'note') this.stopTyping();
    const note = this.mode === 'note';
    this.el.composer.classList.toggle('note-mode', note);
    for (const b of this.el.modes) b.setAttribute('aria-pressed', String(b.dataset.mode === this.mode));
    this.el.reply.placeholder = note ? 'Write an internal note: only agents see it — Enter saves it'
      : 'Write a reply — Enter sends, Shift+Enter for a new line';
    this.el.reply.focus();
  }

  typed() {
    if (!this.c) return;
    this.drafts?.set(this.c.id, this.el.reply.value);
    if (this.mode === 'note') return;
    const now = Date.now();
    if (!this.el.reply.value.trim()) { this.stopTyping(); return; }
    if (now - this.typingSentAt > TYPING_EVERY_MS || this.typingConv !== this.c.id) {
      if (this.send({ type: 'typing', conversation_id: this.c.id, on: true })) {
        this.typingSentAt = now;
        this.typingConv = this.c.id;
      }
    }
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingIdle);
    if (!this.typingConv) return;
    this.send({ type: 'typing', conversation_id: this.typingConv, on: false });
    this.typingConv = '';
    this.typingSentAt = 0;
  }

  submit() {
    if (!this.c) return;
    const text = this.el.reply.value;
    if (!text.trim()) return;
    if (new TextEncoder().encode(text).length > (this.maxBytes || 4096)) {
      this.toast(`That reply is too long (over ${this.maxBytes || 4096} bytes).`);
      return;
    }
    this.stopTyping();
    this.el.reply.value = '';
    this.drafts?.delete(this.c.id);
    this.outbox.add(this.c.id, text, this.mode === 'note' ? 'note' : 'message');
    announce(`${this.model.me?.name || 'You'}${this.mode === 'note' ? ' (internal note)' : ''}: ${text}`);
    this.el.history.scrollTop = this.el.history.scrollHeight;
  }
}

// languageName is "German (de)" for "de", in the browser's own language.
function languageName(tag) {
  try {
    return `${new Intl.DisplayNames([navigator.language], { type: 'language' }).of(tag)} (${tag})`;
  } catch {
    return tag;
  }
}
