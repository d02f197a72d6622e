// Questions the intents missed (issue 14): what visitors asked lately that
// went to the AI or a person, grouped by similarity, each group with
// "Create intent from these", "Add to" an intent (the closest first) and
// "Dismiss"; and whether agents may teach the bot from the console.
import * as api from '../shared/api.js';
import { $, clear, clip, h, toast } from '../shared/dom.js';
import { newIntent, onShow, show as showIntents } from './intents.js';

let names = []; // the answer intents, for "Add to"

async function load() {
  const out = $('#suggest-result');
  clear(out);
  out.append(h('p', { class: 'muted', text: 'Reading recent conversations…' }));
  const r = await api.get('/v1/admin/intents/suggestions');
  clear(out);
  if (!r.groups.length) {
    out.append(h('p', { class: 'ok', text: `Nothing to suggest: no question in ${r.conversations} recent conversations went past the intents.` }));
    return;
  }
  out.append(h('p', { class: 'muted', text: `${r.questions} questions in ${r.groups.length} groups, from ${r.conversations} recent conversations.` }));
  const ul = h('ul', { class: 'suggest-list' });
  r.groups.forEach((g, i) => ul.append(group(g, i)));
  out.append(ul);
}

function group(g, i) {
  const texts = g.questions.map((q) => q.text);
  const id = `suggest-${i}`;
  const title = `${g.questions.length} ${g.questions.length === 1 ? 'question' : 'questions'}: “${clip(texts[0], 60)}”`;
  const li = h('li', { 'aria-labelledby': id },
    h('strong', { id, text: title }),
    h('ul', { class: 'suggest-questions' }, ...g.questions.slice(0, 8).map((q) => h('li', { dir: 'auto', text: clip(q.text, 200) }))),
    g.questions.length > 8 ? h('p', { class: 'muted', text: `and ${g.questions.length - 8} more` }) : null);
  const close = (g.candidates || []).map((c) => c.intent);
  const order = [...close, ...names.filter((n) => !close.includes(n))];
  const sel = h('select', { 'aria-label': `Intent to add group ${i + 1} to` },
    ...order.map((n) => h('option', { value: n, text: close.includes(n) ? `${n} (close)` : n })));
  const add = h('button', { type: 'button', text: 'Add to intent', 'aria-label': `Add these questions to the chosen intent (group ${i + 1})` });
  add.addEventListener('click', async () => {
    add.disabled = true;
    try {
      const r = await api.post(`/v1/admin/intents/${encodeURIComponent(sel.value)}/examples`, { examples: texts });
      toast(`Added ${r.added} ${r.added === 1 ? 'example' : 'examples'} to "${sel.value}". Widgets pick up the new model at their next chat.`);
      await showIntents();
      await load();
    } catch (e) {
      add.disabled = false;
      toast(e.message, 'error');
    }
  });
  const create = h('button', { type: 'button', class: 'primary', text: 'Create intent from these', 'aria-label': `Create an intent from group ${i + 1}` });
  create.addEventListener('click', async () => {
    await newIntent(texts);
    load().catch((e) => toast(e.message, 'error'));
  });
  const dismiss = h('button', { type: 'button', text: 'Dismiss', 'aria-label': `Dismiss group ${i + 1}` });
  dismiss.addEventListener('click', async () => {
    dismiss.disabled = true;
    try {
      await api.post('/v1/admin/intents/suggestions/dismiss', { questions: g.questions.map((q) => ({ conversation_id: q.conversation_id, seq: q.seq })) });
      li.remove();
    } catch (e) {
      dismiss.disabled = false;
      toast(e.message, 'error');
    }
  });
  li.append(h('div', { class: 'row-actions' }, create, order.length ? sel : null, order.length ? add : null, dismiss));
  return li;
}

export function init() {
  onShow.push((intents) => { names = intents.filter((it) => (it.action || 'answer') === 'answer').map((it) => it.name); });
  $('#suggest-load').addEventListener('click', () => load().catch((e) => toast(e.message, 'error')));
  const box = $('#learn-agents');
  api.get('/v1/admin/learn').then((r) => { box.checked = r.agents; }, () => { /* shown unchecked */ });
  box.addEventListener('change', async () => {
    try {
      const r = await api.put('/v1/admin/learn', { agents: box.checked });
      toast(r.agents ? 'Agents may now teach the bot from the console.' : 'Only admins teach the bot now.');
    } catch (e) {
      box.checked = !box.checked;
      toast(e.message, 'error');
    }
  });
}
