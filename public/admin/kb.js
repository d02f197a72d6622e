// Knowledge base: articles the AI answers from (a title and a markdown
// body, or the text of a page of the site pasted with its address), and
// what a sentence would retrieve from them.
import * as api from '../shared/api.js';
import { $, clear, h, toast } from '../shared/dom.js';
import { renderMarkdown } from '../shared/markdown.js';
import { dialog, field } from './ui.js';

let articles = [];

export async function show() {
  articles = (await api.get('/v1/admin/kb')).articles;
  const tbody = $('#kb-rows');
  clear(tbody);
  for (const a of articles) {
    tbody.append(h('tr', {},
      h('td', {}, h('a', { href: a.url || `/help/${encodeURIComponent(a.id)}`, target: '_blank', rel: 'noopener noreferrer', text: a.title })),
      h('td', { class: 'muted', text: a.url ? 'pasted from a page' : 'written here' }),
      h('td', { class: 'clip', text: a.body.slice(0, 160) }),
      h('td', { class: 'actions' },
        h('button', { type: 'button', text: 'Edit', 'aria-label': `Edit ${a.title}`, onclick: () => edit(a) }),
        h('button', { type: 'button', class: 'danger', text: 'Delete', 'aria-label': `Delete ${a.title}`, onclick: () => remove(a) }))));
  }
  if (!articles.length) tbody.append(h('tr', {}, h('td', { colspan: 4, class: 'muted', text: 'No articles yet: the AI answers from the FAQ intents only.' })));
}

function edit(a = { title: '', body: '', url: '' }) {
  const preview = h('div', { class: 'md kb-preview', 'aria-label': 'Preview' });
  const body = field({ label: 'Text (markdown: paragraphs, *emphasis*, lists, `code`, [links](https://…); or the page\'s text pasted)', name: 'body', rows: 12, value: a.body, required: true, maxlength: 65536 });
  const area = body.querySelector('textarea');
  const draw = () => { clear(preview); preview.append(renderMarkdown(area.value, { base: location.origin })); };
  area.addEventListener('input', draw);
  draw();
  return dialog({
    title: a.id ? `Edit “${a.title}”` : 'New article',
    ok: 'Save',
    body: [
      field({ label: 'Title', name: 'title', value: a.title, required: true, maxlength: 200 }),
      field({ label: 'Page address (if you pasted the text of a page of your site; answers link there)', name: 'url', type: 'url', value: a.url || '', placeholder: 'https://…', maxlength: 2000 }),
      body,
      h('p', { class: 'muted', text: 'Preview, as visitors and agents see it:' }),
      preview,
    ],
    async onOK(form) {
      const f = Object.fromEntries(new FormData(form));
      const art = { title: f.title, body: f.body, url: f.url };
      if (a.id) await api.put(`/v1/admin/kb/${encodeURIComponent(a.id)}`, art);
      else await api.post('/v1/admin/kb', art);
      toast(`Saved “${f.title.trim()}”.`);
      await show();
    },
  });
}

function remove(a) {
  return dialog({
    title: `Delete “${a.title}”?`,
    ok: 'Delete',
    danger: true,
    body: [h('p', { text: 'The AI stops answering from it; answers already given keep their link.' })],
    async onOK() {
      await api.del(`/v1/admin/kb/${encodeURIComponent(a.id)}`);
      toast(`Deleted “${a.title}”.`);
      await show();
    },
  });
}

export function init() {
  $('#kb-new').addEventListener('click', () => edit());
}
