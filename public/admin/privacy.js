// Privacy: find a visitor (email, id, trait), export or erase their data,
// visitors' own erasure requests, retention and its sweep, the audit.
import * as api from '../shared/api.js';
import { $, clear, dateTime, h, showMsg, toast } from '../shared/dom.js';
import { dialog } from './ui.js';
import { contextRows } from '../shared/context.js';

const ms = (t) => (t ? Date.parse(t) : 0);

// download saves a JSON document the page already has as a file.
function download(name, data) {
  const a = h('a', { href: URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

async function exportVisitors(ids) {
  download(`kefu-visitor-${ids[0]}.json`, await api.post('/v1/admin/visitors/export', { ids }));
  toast('Export downloaded.');
}

function erase(ids, label) {
  return dialog({
    title: `Erase ${label}?`,
    body: [h('p', { text: 'Their conversations, messages and details are deleted for good, and the database file is compacted so the bytes leave the disk. The erasure is recorded without personal data. This cannot be undone; export first if they asked for a copy.' })],
    ok: 'Erase for good',
    danger: true,
    async onOK() {
      const r = await api.post('/v1/admin/visitors/erase', { ids });
      toast(`Erased ${r.visitors} visitor(s), ${r.conversations} conversation(s), ${r.messages} message(s).`);
      clear($('#pv-results'));
      await show();
    },
  });
}

function visitorCard(f) {
  const v = f.visitor;
  const traits = Object.entries(v.traits || {}).map(([k, val]) => `${k}: ${val}`).join(', ');
  const convs = f.conversations || [];
  const label = v.traits?.email || v.id;
  return h('article', { class: 'panel' },
    h('h3', { text: v.traits?.name || v.traits?.email || `Visitor ${v.id}` }),
    h('p', { class: 'muted', text: `Visitor ${v.id} · since ${dateTime(ms(v.created_at))}${v.fingerprint ? ' · fingerprint on' : ''}` }),
    traits ? h('p', { text: traits }) : null,
    v.context ? h('dl', { class: 'traits context', 'aria-label': `Browser and visits of ${label}` }, contextRows(v.context, 0)) : null,
    h('ul', { class: 'plain' }, convs.map((c) => h('li', {},
      h('a', { href: `#conversations/${c.id}`, text: `${c.status} · ${c.last_seq} messages · ${dateTime(ms(c.updated_at))}` }),
      c.preview ? ` — ${c.preview}` : ''))),
    h('div', { class: 'actions' },
      h('button', { type: 'button', text: 'Export (JSON)', 'aria-label': `Export the data of ${label}`, onclick: () => exportVisitors([v.id]).catch((e) => toast(e.message, 'error')) }),
      h('button', { type: 'button', class: 'danger', text: 'Erase', 'aria-label': `Erase the data of ${label}`, onclick: () => erase([v.id], label) })));
}

async function find(e) {
  e.preventDefault();
  const f = Object.fromEntries(new FormData(e.target));
  const q = f.q.trim();
  let query;
  if (f.by === 'trait') {
    const i = q.indexOf('=');
    if (i < 1) { showMsg($('#pv-find-msg'), 'Write the trait as name=value, e.g. plan=pro.'); return; }
    query = `trait=${encodeURIComponent(q.slice(0, i))}&value=${encodeURIComponent(q.slice(i + 1))}`;
  } else {
    query = `${f.by}=${encodeURIComponent(q)}`;
  }
  showMsg($('#pv-find-msg'), '');
  const out = $('#pv-results');
  clear(out);
  try {
    const { visitors } = await api.get(`/v1/admin/visitors?${query}`);
    if (!visitors.length) { out.append(h('p', { text: 'Nobody matches.' })); return; }
    out.append(h('p', { text: `${visitors.length} visitor(s) found.` }));
    if (visitors.length > 1) {
      const ids = visitors.map((x) => x.visitor.id);
      out.append(h('div', { class: 'actions' },
        h('button', { type: 'button', text: 'Export all (JSON)', onclick: () => exportVisitors(ids).catch((err) => toast(err.message, 'error')) }),
        h('button', { type: 'button', class: 'danger', text: 'Erase all', onclick: () => erase(ids, `all ${ids.length} visitors`) })));
    }
    for (const v of visitors) out.append(visitorCard(v));
  } catch (err) {
    showMsg($('#pv-find-msg'), err.message);
  }
}

function renderRequests(reqs) {
  const ul = $('#pv-requests');
  clear(ul);
  if (!reqs.length) { ul.append(h('li', { class: 'muted', text: 'None waiting.' })); return; }
  for (const r of reqs) {
    const who = r.found?.visitor?.traits?.email || r.visitor_id;
    ul.append(h('li', {},
      h('span', { text: `${who} — asked ${dateTime(ms(r.at))} ` }),
      r.found ? h('button', { type: 'button', text: 'Export', 'aria-label': `Export the data of ${who}`, onclick: () => exportVisitors([r.visitor_id]).catch((e) => toast(e.message, 'error')) }) : null,
      r.found ? h('button', { type: 'button', class: 'danger', text: 'Erase', 'aria-label': `Erase the data of ${who}`, onclick: () => erase([r.visitor_id], who) }) : null,
      h('button', {
        type: 'button', text: 'Dismiss', 'aria-label': `Dismiss the request of ${who}`,
        onclick: async () => { await api.del(`/v1/admin/privacy/requests/${encodeURIComponent(r.visitor_id)}`); await show(); },
      })));
  }
}

// sweepText says when the sweep runs next and what the last one removed.
export function sweepText(ret, st) {
  if (!ret.closed_days && !ret.inactive_days) return 'Retention is off: conversations and visitors are kept forever.';
  const next = st.next_run ? `Next sweep ${dateTime(ms(st.next_run))}.` : 'The first sweep runs shortly.';
  const last = st.last_end ? ` The last one (${dateTime(ms(st.last_end))}) removed ${st.conversations} conversation(s) and ${st.visitors} visitor(s).` : '';
  const err = st.last_error ? ` It failed: ${st.last_error}` : '';
  return next + last + err;
}

function renderAudit(entries) {
  const ul = $('#pv-audit');
  clear(ul);
  if (!entries.length) { ul.append(h('li', { class: 'muted', text: 'No erasure yet.' })); return; }
  for (const e of entries.slice(0, 50)) {
    const what = e.kind === 'retention'
      ? `retention sweep removed ${e.conversations} conversation(s), ${e.visitor_count || 0} visitor(s)`
      : `${e.by} erased ${e.visitors?.length || 0} visitor(s), ${e.conversations} conversation(s), ${e.messages || 0} message(s)`;
    ul.append(h('li', { text: `${dateTime(ms(e.at))}: ${what}` }));
  }
}

export async function show() {
  const [reqs, ret, audit] = await Promise.all([
    api.get('/v1/admin/privacy/requests'), api.get('/v1/admin/retention'), api.get('/v1/admin/privacy/audit')]);
  renderRequests(reqs.requests);
  const f = $('#pv-retention').elements;
  f.closed_days.value = ret.retention.closed_days;
  f.inactive_days.value = ret.retention.inactive_days;
  $('#pv-sweep').textContent = sweepText(ret.retention, ret.sweep);
  renderAudit(audit.entries);
}

async function saveRetention(e) {
  e.preventDefault();
  const f = e.target.elements;
  showMsg($('#pv-ret-msg'), '');
  try {
    const r = await api.put('/v1/admin/retention', { closed_days: Number(f.closed_days.value), inactive_days: Number(f.inactive_days.value) });
    $('#pv-sweep').textContent = sweepText(r.retention, r.sweep);
    toast('Retention saved. The next sweep applies it.');
  } catch (err) {
    showMsg($('#pv-ret-msg'), err.message);
  }
}

export function init() {
  $('#pv-find').addEventListener('submit', find);
  $('#pv-retention').addEventListener('submit', saveRetention);
}
