// Conversations: filters, the list, and a conversation's full transcript.
// Everything here was typed by visitors, agents or the model: text, or
// the strict markdown renderer's DOM nodes for answers and replies.
import * as api from '../shared/api.js';
import { $, clear, dateTime, h } from '../shared/dom.js';
import { renderMarkdown } from '../shared/markdown.js';
import { contextRows, pageNode } from '../shared/context.js';

const PAGE = 50;
let offset = 0;
let total = 0;
let current = '';

const FROM = { visitor: 'Visitor', agent: 'Agent', bot: 'Bot', system: 'System', rating: 'Rating' };
const VIA = { browser: 'instant FAQ (browser)', relay: 'FAQ (relay)', ai: 'AI' };
const HANDLER = { bot: 'bot', queue: 'waiting in the queue', agent: 'a person' };

function query() {
  const p = new URLSearchParams();
  for (const [k, v] of new FormData($('#conv-filter'))) if (String(v).trim()) p.set(k, String(v).trim());
  p.set('offset', String(offset));
  p.set('limit', String(PAGE));
  return p;
}

function visitorName(traits) {
  return traits?.name || traits?.email || 'Visitor';
}

async function list() {
  const r = await api.get(`/v1/admin/conversations?${query()}`);
  total = r.total;
  const ul = $('#conv-list');
  clear(ul);
  for (const c of r.conversations) {
    const meta = [c.status, HANDLER[c.handler] || c.handler, c.agent_name, c.intent && `intent ${c.intent}`].filter(Boolean).join(' · ');
    ul.append(h('li', {}, h('button', {
      type: 'button', class: 'conv', 'aria-current': c.id === current ? 'true' : null,
      dataset: { id: c.id }, onclick: () => open(c.id),
    },
    h('span', { class: 'conv-who', text: visitorName(c.traits) }),
    h('span', { class: 'conv-when', text: dateTime(c.updated_at) }),
    h('span', { class: 'conv-text', text: c.match || c.preview }),
    h('span', { class: 'conv-meta', text: meta }))));
  }
  const last = Math.min(offset + PAGE, total);
  $('#conv-count').textContent = total ? `${offset + 1}–${last} of ${total}` : 'No conversation matches.';
  $('#conv-prev').disabled = offset === 0;
  $('#conv-next').disabled = last >= total;
}

async function open(id) {
  current = id;
  history.replaceState(null, '', `#conversations/${encodeURIComponent(id)}`);
  for (const b of document.querySelectorAll('#conv-list .conv')) b.setAttribute('aria-current', String(b.dataset.id === id));
  const r = await api.get(`/v1/admin/conversations/${encodeURIComponent(id)}`);
  const c = r.conversation;
  const box = $('#conv-detail');
  clear(box);
  box.append(h('h2', { text: visitorName(r.visitor.traits) }));
  box.append(h('p', { class: 'muted', text: `${c.status}, handled by ${HANDLER[c.handler] || c.handler}${c.agent_name ? ` (${c.agent_name})` : ''} · started ${dateTime(c.created_at)} · ${c.last_seq} messages` }));
  const traits = Object.entries(r.visitor.traits || {});
  if (traits.length) {
    box.append(h('dl', { class: 'traits' }, traits.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])));
  }
  if (r.visitor.context) box.append(h('dl', { class: 'traits context', 'aria-label': 'Visitor context' }, contextRows(r.visitor.context, r.visitor.created_at)));
  const ol = h('ol', { class: 'lines', 'aria-label': 'Transcript' });
  // Agents' internal notes go after the message they were written after.
  const notes = [...(r.notes || [])].sort((a, b) => a.after_seq - b.after_seq || a.ts - b.ts);
  const noteLine = (n) => h('li', { class: 'line note' },
    h('p', { class: 'line-meta' }, h('strong', { text: `${n.author || 'Agent'} · internal note` }), ` ${dateTime(n.ts)}`),
    h('p', { class: 'line-text', text: n.text }));
  while (notes.length && notes[0].after_seq === 0) ol.append(noteLine(notes.shift()));
  for (const m of r.messages) {
    const who = m.author || FROM[m.from] || m.from;
    const tags = [VIA[m.via], m.intent && `intent ${m.intent}`, m.incomplete && 'interrupted'].filter(Boolean).join(' · ');
    ol.append(h('li', { class: `line ${m.from}` },
      h('p', { class: 'line-meta' }, h('strong', { text: who }), ` ${dateTime(m.ts)}`, tags ? h('span', { class: 'tag', text: tags }) : null),
      lineBody(id, m), m.from === 'visitor' ? pageNode(m.page_url, m.page_title) : null));
    while (notes.length && notes[0].after_seq <= m.seq) ol.append(noteLine(notes.shift()));
  }
  for (const n of notes) ol.append(noteLine(n));
  if (!r.messages.length) ol.append(h('li', { class: 'muted', text: 'No messages.' }));
  box.append(ol);
}

// lineBody is a message's text, its file (a thumbnail or a link, served
// at the agents' path), or a visitor's rating.
function lineBody(conv, m) {
  const a = m.attachment;
  if (a) {
    const href = `/v1/agent/conversations/${encodeURIComponent(conv)}/attachments/${encodeURIComponent(a.id)}`;
    const label = `${a.name} (${a.type}, ${Math.max(1, Math.round(a.size / 1024))} KB)`;
    return h('p', { class: 'line-text line-file' }, /^image\//.test(a.type)
      ? h('a', { href, target: '_blank', rel: 'noopener noreferrer', title: label }, h('img', { src: a.thumb ? `${href}?thumb=1` : href, alt: a.name, loading: 'lazy' }))
      : h('a', { href, download: a.name, text: label }));
  }
  if (m.rating) {
    const n = Math.max(1, Math.min(5, m.rating.score | 0));
    return h('p', { class: 'line-text', text: `${'★'.repeat(n)}${'☆'.repeat(5 - n)} ${n}/5${m.rating.comment ? ` — ${m.rating.comment}` : ''}` });
  }
  if (m.from === 'bot' || m.from === 'agent') return h('div', { class: 'line-text md' }, renderMarkdown(m.text));
  return h('p', { class: 'line-text', text: m.text });
}

async function fillSelect(sel, items) {
  const keep = sel.value;
  while (sel.options.length > 1) sel.remove(1);
  for (const [v, t] of items) sel.append(h('option', { value: v, text: t }));
  sel.value = keep;
}

export async function show() {
  const [agents, intents] = await Promise.all([api.get('/v1/admin/agents'), api.get('/v1/admin/intents')]);
  fillSelect($('#conv-agent'), agents.agents.map((a) => [a.id, a.name]));
  fillSelect($('#conv-intent'), intents.intents.map((i) => [i.name, i.name]));
  await list();
  const id = decodeURIComponent(location.hash.split('/')[1] || '');
  if (id) await open(id);
}

export function init() {
  $('#conv-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    offset = 0;
    list().catch((err) => { $('#conv-count').textContent = err.message; });
  });
  $('#conv-prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); list(); });
  $('#conv-next').addEventListener('click', () => { offset += PAGE; list(); });
}
