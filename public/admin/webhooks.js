// Webhooks: the URLs events are posted to, their deliveries, and the
// actions on a URL that keeps failing. A secret is shown once, when the
// relay makes it; after that the page only knows that there is one.
import * as api from '../shared/api.js';
import { $, clear, clip, h, toast, when } from '../shared/dom.js';
import { dialog, field } from './ui.js';

const path = (id) => `/v1/admin/webhooks/${encodeURIComponent(id)}`;
let types = [];

// eventPicker is a fieldset of checkboxes, one per event type; none
// checked means every type.
function eventPicker(chosen = []) {
  return h('fieldset', { class: 'checks' },
    h('legend', { text: 'Events (none checked: all of them)' }),
    types.map((t) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'events', value: t, checked: chosen.includes(t) }), ` ${t}`)));
}

function checkedEvents(form) {
  return [...form.querySelectorAll('input[name=events]:checked')].map((i) => i.value);
}

// showSecret tells the admin the secret the one time the relay sends it.
function showSecret(secret) {
  return dialog({
    title: 'The signing secret',
    ok: 'Done',
    body: [
      h('p', { text: 'Copy it into your receiver now: it is not shown again (you can make a new one later).' }),
      h('input', { id: 'wh-secret', readonly: true, value: secret, class: 'mono', 'aria-label': 'Signing secret', onfocus: (e) => e.target.select() }),
    ],
  });
}

function stateOf(e, st) {
  if (!e.enabled) return ['off', 'off'];
  if (!st) return ['', '…'];
  if (st.paused) return ['paused', 'paused'];
  if (st.retrying) return ['retrying', 'retrying'];
  const last = st.deliveries[0];
  if (!last) return ['idle', 'no deliveries yet'];
  return [last.status === 'delivered' ? 'online' : last.status, `${last.status} ${when(last.last_at)}`];
}

async function render(list) {
  const tb = $('#wh-rows');
  clear(tb);
  $('#wh-empty').hidden = list.length > 0;
  const states = await Promise.all(list.map((e) => api.get(`${path(e.id)}/deliveries`).catch(() => null)));
  list.forEach((e, i) => {
    const [cls, text] = stateOf(e, states[i]);
    tb.append(h('tr', { class: e.enabled ? '' : 'off' },
      h('th', { scope: 'row', title: e.url }, h('span', { class: 'mono', text: clip(e.url, 70) }), e.description ? h('div', { class: 'muted', text: e.description }) : null),
      h('td', { text: e.events.length ? e.events.join(', ') : 'all events' }),
      h('td', {}, h('span', { class: `pill ${cls}`, text })),
      h('td', { class: 'row-actions' },
        h('button', { type: 'button', text: 'Deliveries', 'aria-label': `Deliveries to ${e.url}`, onclick: () => deliveries(e) }),
        h('button', { type: 'button', text: 'Test', 'aria-label': `Send a test event to ${e.url}`, onclick: () => ping(e) }),
        h('button', { type: 'button', text: 'Edit', 'aria-label': `Edit ${e.url}`, onclick: () => edit(e) }),
        h('button', { type: 'button', class: 'danger', text: 'Delete', 'aria-label': `Delete ${e.url}`, onclick: () => remove(e) }))));
  });
}

export async function show() {
  const r = await api.get('/v1/admin/webhooks');
  types = r.event_types;
  await render(r.endpoints);
}

// eventTypes returns the event types the relay offers, asking for them
// when the tab's list has not loaded yet: the Add button works from the
// tab's first paint, and its checkboxes are made from these.
async function eventTypes() {
  if (!types.length) types = (await api.get('/v1/admin/webhooks')).event_types;
  return types;
}

async function create() {
  try {
    await eventTypes();
  } catch (err) {
    toast(err.message, 'error');
    return undefined;
  }
  return dialog({
    title: 'Add a webhook',
    ok: 'Add',
    body: [
      field({ label: 'URL (https://…)', name: 'url', type: 'url', required: true, maxlength: 2000, spellcheck: 'false' }),
      field({ label: 'Description (for you)', name: 'description', maxlength: 200 }),
      eventPicker(),
      field({ label: 'Secret (optional: leave empty and Kefu makes one)', name: 'secret', type: 'password', autocomplete: 'new-password', maxlength: 200 }),
    ],
    async onOK(form) {
      const f = new FormData(form);
      const body = { url: f.get('url').trim(), description: f.get('description').trim(), events: checkedEvents(form) };
      if (f.get('secret')) body.secret = f.get('secret');
      const r = await api.post('/v1/admin/webhooks', body);
      await show();
      toast('Webhook added.');
      if (!body.secret) setTimeout(() => showSecret(r.secret));
    },
  });
}

function edit(e) {
  return dialog({
    title: 'Edit the webhook',
    ok: 'Save',
    body: [
      field({ label: 'URL', name: 'url', type: 'url', value: e.url, required: true, maxlength: 2000, spellcheck: 'false' }),
      field({ label: 'Description', name: 'description', value: e.description || '', maxlength: 200 }),
      eventPicker(e.events),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'enabled', checked: e.enabled }), ' Enabled'),
      field({ label: 'New secret (write-only; leave empty to keep the current one)', name: 'secret', type: 'password', autocomplete: 'new-password', maxlength: 200 }),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'rotate' }), ' Make a new random secret'),
    ],
    async onOK(form) {
      const f = new FormData(form);
      const body = { url: f.get('url').trim(), description: f.get('description').trim(), events: checkedEvents(form), enabled: f.get('enabled') === 'on' };
      if (f.get('rotate') === 'on') body.secret = '';
      else if (f.get('secret')) body.secret = f.get('secret');
      const r = await api.patch(path(e.id), body);
      await show();
      toast('Webhook saved.');
      if (r.secret) setTimeout(() => showSecret(r.secret));
    },
  });
}

function remove(e) {
  return dialog({
    title: 'Delete this webhook?',
    body: [h('p', { text: `${e.url} gets no more events; what was not delivered yet is dropped.` })],
    ok: 'Delete',
    danger: true,
    async onOK() {
      await api.del(path(e.id));
      toast('Webhook deleted.');
      await show();
    },
  });
}

async function ping(e) {
  try {
    const d = await api.post(`${path(e.id)}/ping`);
    if (d.status === 'delivered') toast(`Test event delivered (HTTP ${d.code}).`);
    else toast(`Test event failed: ${d.error}`, 'error', 10_000);
  } catch (err) {
    toast(err.message, 'error');
  }
}

function deliveryRow(e, d, refresh) {
  const detail = [d.error, d.response ? `answer: ${d.response}` : ''].filter(Boolean).join(' · ');
  return h('tr', {},
    h('td', { text: when(d.last_at) }),
    h('td', { text: d.type }),
    h('td', {}, h('span', { class: `pill ${d.status === 'delivered' ? 'online' : d.status}`, text: d.status })),
    h('td', { text: `${d.attempts}${d.code ? ` · HTTP ${d.code}` : ''}` }),
    h('td', { class: 'muted', title: detail, text: clip(detail, 80) }),
    h('td', {}, h('button', {
      type: 'button', text: 'Redeliver', 'aria-label': `Redeliver ${d.type} ${d.event_id}`,
      onclick: async () => {
        try {
          const r = await api.post(`${path(e.id)}/deliveries/${d.slot}/redeliver`);
          toast(r.status === 'delivered' || !r.error ? 'Redelivered.' : `Redelivery failed: ${r.error}`, r.error ? 'error' : '');
          await refresh();
        } catch (err) {
          toast(err.message, 'error');
        }
      },
    })));
}

function deliveries(e) {
  const box = h('div', { class: 'deliveries' });
  const refresh = async () => {
    const st = await api.get(`${path(e.id)}/deliveries`);
    clear(box);
    if (st.paused) {
      box.append(h('p', { class: 'alert warn', role: 'status', text: 'Paused: an event kept failing for a day. Nothing after it was sent or dropped. Retry it, or skip it and go on.' }),
        h('p', { class: 'row-actions' },
          h('button', { type: 'button', class: 'primary', text: 'Retry now', onclick: () => act('resume') }),
          h('button', { type: 'button', text: 'Skip that event', onclick: () => act('skip') })));
    }
    if (!st.deliveries.length) {
      box.append(h('p', { class: 'muted', text: 'No deliveries yet.' }));
      return;
    }
    box.append(h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ['When', 'Event', 'Status', 'Attempts', 'Details', ''].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, st.deliveries.map((d) => deliveryRow(e, d, refresh)))));
  };
  const act = async (what) => {
    try {
      await api.post(`${path(e.id)}/${what}`);
      toast(what === 'skip' ? 'Skipped; the next events follow.' : 'Retrying now.');
      await refresh();
      await show();
    } catch (err) {
      toast(err.message, 'error');
    }
  };
  refresh().catch((err) => toast(err.message, 'error'));
  return dialog({ title: `Deliveries to ${clip(e.url, 60)}`, ok: 'Close', wide: true, body: [box] });
}

export function init() {
  $('#wh-new').addEventListener('click', () => create());
}
