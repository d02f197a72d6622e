// FAQ intents: the table, the editor, import/export, and "try a sentence"
// against the model widgets run now.
import * as api from '../shared/api.js';
import { $, clear, clip, h, toast } from '../shared/dom.js';
import { dialog, field } from './ui.js';
import * as suggestions from './suggestions.js';

let intents = [];
let languages = []; // the widget's: an answer may be written in each

const ACTIONS = [['answer', 'Answer at once'], ['ai', 'Let the AI answer'], ['handoff', 'Hand off to a person']];
const actionLabel = (a) => ACTIONS.find(([v]) => v === (a || 'answer'))?.[1] ?? a;
const path = (name) => `/v1/admin/intents/${encodeURIComponent(name)}`;

function modelLine(m) {
  $('#intent-model').textContent = m.hash ? `${m.intents} intents in the model widgets use now (${m.hash.slice(0, 12)})` : 'No intents: every question goes to the AI or a person.';
}

function render() {
  const tb = $('#intent-rows');
  clear(tb);
  for (const it of intents) {
    tb.append(h('tr', {},
      h('th', { scope: 'row', class: 'name', text: it.name }),
      h('td', { text: actionLabel(it.action) + (it.action === 'handoff' && it.skill ? ` (${it.skill})` : '') }),
      h('td', { title: it.examples.join('\n'), text: `${it.examples.length}: ${clip(it.examples.slice(0, 3).join(' · '), 80)}` }),
      h('td', { class: 'answer', title: it.answer, text: clip(it.answer, 140) + (it.answers && Object.keys(it.answers).length ? ` (+ ${Object.keys(it.answers).length} languages)` : '') }),
      h('td', { class: 'row-actions' },
        h('button', { type: 'button', text: 'Edit', 'aria-label': `Edit ${it.name}`, onclick: () => edit(it) }),
        h('button', { type: 'button', class: 'danger', text: 'Delete', 'aria-label': `Delete ${it.name}`, onclick: () => remove(it) }))));
  }
  if (!intents.length) tb.append(h('tr', {}, h('td', { colspan: 5, class: 'muted', text: 'No intents yet.' })));
}

export async function show() {
  const r = await api.get('/v1/admin/intents');
  intents = r.intents;
  languages = r.languages || [];
  modelLine(r.model);
  render();
  onShow.forEach((fn) => fn(intents));
}

// onShow: functions told the intents each time they are (re)loaded.
export const onShow = [];

// newIntent opens the editor for a new intent with these examples
// (suggestions.js: "create intent from these"); resolves when saved.
export const newIntent = (examples) => edit(null, examples);

// edit opens the editor for an intent (none: a new one, with examples).
function edit(it, examples = []) {
  const isNew = !it;
  it = it || { name: '', examples, answer: '', action: 'answer', skill: '' };
  const skill = field({ label: 'Skill the person needs (routing)', name: 'skill', value: it.skill || '', maxlength: 200 });
  const action = field({ label: 'When it matches', name: 'action', value: it.action || 'answer', options: ACTIONS });
  const sync = () => { skill.hidden = action.querySelector('select').value !== 'handoff'; };
  action.querySelector('select').addEventListener('change', sync);
  sync();
  return dialog({
    title: isNew ? 'New intent' : `Edit ${it.name}`,
    ok: 'Save',
    body: [
      field({ label: 'Name', name: 'name', value: it.name, required: true, maxlength: 64, spellcheck: 'false' }),
      field({ label: 'Examples, one per line (how visitors ask)', name: 'examples', rows: 8, value: it.examples.join('\n'), required: true }),
      action,
      field({ label: 'Answer', name: 'answer', rows: 4, value: it.answer, maxlength: 4000 }),
      translated(it.answers || {}),
      skill,
    ],
    async onOK(form) {
      const f = Object.fromEntries(new FormData(form));
      const body = {
        name: f.name.trim(),
        examples: f.examples.split('\n').map((s) => s.trim()).filter(Boolean),
        answer: f.answer.trim(),
        action: f.action,
        skill: f.action === 'handoff' ? f.skill.trim() : '',
      };
      const answers = {};
      for (const l of languages) {
        const v = (f[`answer-${l.lang}`] || '').trim();
        if (v) answers[l.lang] = v;
      }
      if (Object.keys(answers).length) body.answers = answers;
      const r = isNew ? await api.post('/v1/admin/intents', body) : await api.put(path(it.name), body);
      modelLine(r.model);
      toast(`Saved "${body.name}". Widgets pick up the new model at their next chat.`);
      await show();
    },
  });
}

// translated is the answer in each language the widget speaks: a visitor
// whose widget speaks one gets it, everyone else the answer above.
function translated(answers) {
  const n = Object.keys(answers).length;
  const d = h('details', { class: 'answers', open: n > 0 },
    h('summary', { text: `Answer in other languages${n ? ` (${n} written)` : ''}` }),
    h('p', { class: 'muted', text: 'Visitors whose chat speaks a language get its answer; an empty one shows the answer above.' }));
  for (const l of languages) {
    const f = field({ label: `${l.name} (${l.lang})`, name: `answer-${l.lang}`, rows: 2, value: answers[l.lang] || '', maxlength: 4000 });
    const ta = f.querySelector('textarea');
    ta.lang = l.lang;
    ta.dir = l.dir === 'rtl' ? 'rtl' : 'auto';
    d.append(f);
  }
  return d;
}

function remove(it) {
  return dialog({
    title: `Delete ${it.name}?`,
    body: [h('p', { text: 'Visitors asking this will be answered by the AI or a person instead.' })],
    ok: 'Delete',
    danger: true,
    async onOK() {
      await api.del(path(it.name));
      toast(`Deleted "${it.name}".`);
      await show();
    },
  });
}

// problemList shows an import's problems, each with its line in the file.
function problemList(problems) {
  const ul = h('ul', { class: 'problems' });
  for (const p of problems) {
    ul.append(h('li', { class: p.skipped ? 'skipped' : '' },
      h('span', { class: 'line', text: `line ${p.line}` }),
      ' ', p.intent ? h('strong', { text: p.intent }) : '',
      ' ', p.skipped ? 'skipped: ' : 'fixed: ', p.message));
  }
  return ul;
}

// importFile sends the file as it is (the relay reports problems by its
// lines), shows what an import would do, and replaces on confirmation.
async function importFile(file) {
  const text = await file.text();
  let check;
  try {
    check = await api.postJSONText('/v1/admin/intents/import?check=1', text);
  } catch (e) {
    toast(`${file.name}: ${e.message}`, 'error');
    return;
  }
  const body = [h('p', { text: `The ${intents.length} intents now in use will be replaced by the ${check.count} in ${file.name}.` })];
  if (check.problems.length) {
    body.push(h('p', { text: `${check.problems.length} problem${check.problems.length > 1 ? 's' : ''} in the file (what can be used is imported):` }), problemList(check.problems));
  }
  await dialog({
    title: 'Replace all intents?',
    body,
    ok: 'Replace',
    danger: true,
    async onOK() {
      const r = await api.postJSONText('/v1/admin/intents/import', text);
      const n = r.problems.length;
      toast(`Imported ${r.count} intents${n ? ` (${n} problem${n > 1 ? 's' : ''} reported)` : ''}.`);
      await show();
    },
  });
}

async function tryText(text) {
  const out = $('#try-result');
  const r = await api.post('/v1/admin/intents/try', { text });
  clear(out);
  const conf = r.ranked.length ? ` (estimated ${Math.round(100 * r.confidence)} % likely right)` : '';
  out.append(h('p', { class: r.matched ? 'ok' : 'muted', text: r.matched ? `Matched "${r.intent}"${conf}: ${actionLabel(r.action).toLowerCase()}.` : `No confident match${conf}: the AI or a person would answer.` }));
  if (r.matched && r.answer) out.append(h('blockquote', { class: 'quote', text: r.answer }));
  const ol = h('ol', { class: 'ranked' });
  for (const m of r.ranked) {
    ol.append(h('li', {}, h('span', { class: 'name', text: m.intent }),
      h('meter', { min: 0, max: 1, value: m.score.toFixed(3), 'aria-label': `score of ${m.intent}` }),
      h('span', { class: 'score', text: m.score.toFixed(3) })));
  }
  if (!r.ranked.length) ol.append(h('li', { class: 'muted', text: 'No intent shares a word with this sentence.' }));
  out.append(ol);
  // What the knowledge base would give the AI for this sentence.
  const passages = r.passages || [];
  out.append(h('h4', { text: passages.length ? 'Knowledge-base passages the AI would be given' : 'No knowledge-base passage matches this sentence.' }));
  const pl = h('ol', { class: 'passages' });
  for (const p of passages) {
    pl.append(h('li', {},
      h('a', { href: p.url, target: '_blank', rel: 'noopener noreferrer', text: p.title }),
      h('span', { class: 'score', text: ` ${p.score.toFixed(3)}` }),
      h('blockquote', { class: 'quote', text: p.passage })));
  }
  if (passages.length) out.append(pl);
}

// showQuality renders the held-out report: per intent, what its examples
// would go to, weakest first, with a way to edit it.
async function showQuality() {
  const out = $('#quality-result');
  clear(out);
  out.append(h('p', { class: 'muted', text: 'Checking… (a few fits of the model)' }));
  const r = await api.get('/v1/admin/intents/quality');
  clear(out);
  if (!r.intents.length) {
    out.append(h('p', { class: 'muted', text: 'No intents yet.' }));
    return;
  }
  const weak = r.intents.filter((q) => q.recognised < q.examples).sort((a, b) => a.recognised / a.examples - b.recognised / b.examples);
  const ok = r.intents.filter((q) => q.recognised === q.examples);
  if (!weak.length) out.append(h('p', { class: 'ok', text: 'Every example is recognised when held out: the intents are well apart.' }));
  const ul = h('ul', { class: 'quality-list' });
  for (const q of weak) {
    const li = h('li', {},
      h('strong', { class: 'name', text: q.name }),
      ` — ${q.recognised} of ${q.examples} examples recognised when held out.`);
    if (q.overlaps.length) {
      li.append(h('div', { text: `Overlaps with ${q.overlaps.map((o) => `${o.intent} (${o.count})`).join(', ')}: add examples that tell them apart, or merge them.` }));
    }
    if (q.never_matched.length) {
      li.append(h('div', { class: 'muted', text: 'Never matched: ' + q.never_matched.map((e) => `“${clip(e, 60)}”`).join(' · ') }));
    }
    const it = intents.find((x) => x.name === q.name);
    if (it) li.append(h('button', { type: 'button', text: 'Edit', 'aria-label': `Edit ${q.name}`, onclick: () => edit(it) }));
    ul.append(li);
  }
  out.append(ul);
  if (ok.length) out.append(h('p', { class: 'muted', text: `Well apart: ${ok.map((q) => q.name).join(', ')}.` }));
}

export function init() {
  suggestions.init();
  $('#quality-check').addEventListener('click', () => showQuality().catch((err) => toast(err.message, 'error')));
  $('#intent-new').addEventListener('click', () => edit(null));
  $('#intent-import').addEventListener('change', (e) => {
    const f = e.target.files[0];
    e.target.value = '';
    if (f) importFile(f).catch((err) => toast(err.message, 'error'));
  });
  $('#try-form').addEventListener('submit', (e) => {
    e.preventDefault();
    tryText($('#try-text').value).catch((err) => toast(err.message, 'error'));
  });
}
