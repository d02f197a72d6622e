// People: admins and agents, their presence and load, skills and capacity.
import * as api from '../shared/api.js';
import { $, clear, clip, h, toast } from '../shared/dom.js';
import { dialog, field } from './ui.js';

const ROLES = [['agent', 'Agent (answers chats)'], ['admin', 'Admin (also this page)']];
const path = (id) => `/v1/admin/agents/${encodeURIComponent(id)}`;
let timer = 0;

function render(list) {
  const tb = $('#agent-rows');
  clear(tb);
  for (const a of list) {
    tb.append(h('tr', { class: a.disabled ? 'off' : '' },
      h('th', { scope: 'row', class: 'name', text: a.name }),
      h('td', { text: a.username }),
      h('td', { text: a.role }),
      h('td', {}, h('span', { class: `pill ${a.status}`, text: a.status })),
      h('td', { text: `${a.load} / ${a.capacity}` }),
      h('td', { title: a.skills, text: clip(a.skills, 60) }),
      h('td', { class: 'row-actions' },
        h('button', { type: 'button', text: 'Edit', 'aria-label': `Edit ${a.name}`, onclick: () => edit(a) }),
        h('button', { type: 'button', text: 'Password', 'aria-label': `Set a new password for ${a.name}`, onclick: () => resetPassword(a) }),
        h('button', {
          type: 'button', class: a.disabled ? '' : 'danger', text: a.disabled ? 'Enable' : 'Disable',
          'aria-label': `${a.disabled ? 'Enable' : 'Disable'} ${a.name}`, onclick: () => toggle(a),
        }),
        h('button', { type: 'button', class: 'danger', text: 'Delete', 'aria-label': `Delete ${a.name}`, onclick: () => remove(a) }))));
  }
}

export async function show() {
  render((await api.get('/v1/admin/agents')).agents);
  // Presence and load change as people come and go: refresh while shown.
  clearInterval(timer);
  timer = setInterval(() => {
    if ($('#view-agents').hidden) { clearInterval(timer); return; }
    api.get('/v1/admin/agents').then((r) => render(r.agents)).catch(() => clearInterval(timer));
  }, 10_000);
}

function create() {
  return dialog({
    title: 'Add a person',
    ok: 'Add',
    body: [
      field({ label: 'Name (shown to visitors)', name: 'name', required: true, maxlength: 80 }),
      field({ label: 'User name (to sign in)', name: 'username', required: true, maxlength: 64, autocapitalize: 'none', spellcheck: 'false' }),
      field({ label: 'Role', name: 'role', value: 'agent', options: ROLES }),
      field({ label: 'Password (10 characters or more; they can change it)', name: 'password', type: 'password', autocomplete: 'new-password', minlength: 10, required: true }),
      field({ label: 'Skills (words matched against questions for routing)', name: 'skills', rows: 2, maxlength: 1000 }),
      field({ label: 'Capacity (chats at once)', name: 'capacity', type: 'number', value: '3', min: 0, max: 100 }),
    ],
    async onOK(form) {
      const f = Object.fromEntries(new FormData(form));
      await api.post('/v1/admin/agents', { ...f, name: f.name.trim(), username: f.username.trim(), capacity: Number(f.capacity) });
      toast(`Added ${f.name.trim()}.`);
      await show();
    },
  });
}

function edit(a) {
  return dialog({
    title: `Edit ${a.name}`,
    ok: 'Save',
    body: [
      field({ label: 'Name (shown to visitors)', name: 'name', value: a.name, required: true, maxlength: 80 }),
      field({ label: 'Role', name: 'role', value: a.role, options: ROLES }),
      field({ label: 'Skills', name: 'skills', rows: 2, value: a.skills, maxlength: 1000 }),
      field({ label: 'Capacity (chats at once)', name: 'capacity', type: 'number', value: String(a.capacity), min: 0, max: 100 }),
    ],
    async onOK(form) {
      const f = Object.fromEntries(new FormData(form));
      await api.patch(path(a.id), { name: f.name.trim(), role: f.role, skills: f.skills, capacity: Number(f.capacity) });
      toast(`Saved ${f.name.trim()}.`);
      await show();
    },
  });
}

function toggle(a) {
  const disabling = !a.disabled;
  return dialog({
    title: `${disabling ? 'Disable' : 'Enable'} ${a.name}?`,
    body: [h('p', { text: disabling ? 'They are signed out at once, their open chats go back to the queue, and they cannot sign in until enabled again.' : 'They can sign in again and get chats.' })],
    ok: disabling ? 'Disable' : 'Enable',
    danger: disabling,
    async onOK() {
      await api.patch(path(a.id), { disabled: disabling });
      toast(`${a.name} is ${disabling ? 'disabled' : 'enabled'}.`);
      await show();
    },
  });
}

function remove(a) {
  return dialog({
    title: `Delete ${a.name} for good?`,
    body: [h('p', { text: 'Their account, user name and sessions are deleted; their open chats go back to the queue. Messages they wrote stay in the transcripts with the name visitors saw; nothing links them to an account any more. To keep the account for later, disable it instead.' })],
    ok: 'Delete',
    danger: true,
    async onOK() {
      await api.del(path(a.id));
      toast(`${a.name} is deleted.`);
      await show();
    },
  });
}

function resetPassword(a) {
  return dialog({
    title: `New password for ${a.name}`,
    body: [
      field({ label: 'New password (10 characters or more)', name: 'password', type: 'password', autocomplete: 'new-password', minlength: 10, required: true }),
      h('p', { class: 'muted', text: 'They are signed out everywhere and sign in with this password.' }),
    ],
    ok: 'Set password',
    async onOK(form) {
      await api.post(`${path(a.id)}/password`, { password: new FormData(form).get('password') });
      toast(`New password set for ${a.name}.`);
    },
  });
}

export function init() {
  $('#agent-new').addEventListener('click', () => create());
}
