// Email: the SMTP server (the password is write-only: the relay says only
// whether one is set), who gets the team's notifications, a test mail,
// and the outbox's state.
import * as api from '../shared/api.js';
import { $, showMsg, toast } from '../shared/dom.js';

const form = () => $('#mail-form');

function outboxText(o) {
  const parts = [`Waiting to be sent: ${o.pending}.`];
  if (o.failed) parts.push(`Refused for good by the server: ${o.failed}.`);
  if (o.last_sent_at) parts.push(`Last sent: ${new Date(o.last_sent_at).toLocaleString()}.`);
  if (o.last_error) parts.push(`Last error (${new Date(o.last_error_at).toLocaleString()}): ${o.last_error}`);
  return parts.join(' ');
}

function fill(v) {
  const s = v.settings;
  const f = form().elements;
  f.enabled.checked = s.enabled;
  f.host.value = s.host;
  f.port.value = s.port;
  f.security.value = s.security;
  f.username.value = s.username;
  f.password.value = '';
  f.password.placeholder = v.has_password ? 'password set' : 'no password';
  f.remove_password.checked = false;
  f.remove_password.disabled = !v.has_password;
  $('#m-pass-state').textContent = v.has_password ? 'A password is set. Leave the field empty to keep it.' : 'No password set.';
  f.from.value = s.from;
  f.from_name.value = s.from_name;
  f.agent_to.value = (s.agent_to || []).join('\n');
  f.base_url.value = s.base_url || location.origin;
  f.batch_seconds.value = s.batch_seconds;
  f.visitor_delay_seconds.value = s.visitor_delay_seconds;
  $('#mail-outbox').textContent = outboxText(v.outbox);
  $('#mail-inbound').textContent = v.inbound_url;
}

export async function show() {
  fill(await api.get('/v1/admin/mail'));
}

async function save(e) {
  e.preventDefault();
  showMsg($('#mail-msg'), '');
  const f = form().elements;
  const body = {
    enabled: f.enabled.checked,
    host: f.host.value.trim(),
    port: Number(f.port.value),
    security: f.security.value,
    username: f.username.value.trim(),
    from: f.from.value.trim(),
    from_name: f.from_name.value.trim(),
    agent_to: f.agent_to.value.split(/[\s,]+/).filter(Boolean),
    base_url: f.base_url.value.trim(),
    batch_seconds: Number(f.batch_seconds.value),
    visitor_delay_seconds: Number(f.visitor_delay_seconds.value),
  };
  if (f.remove_password.checked) body.password = '';
  else if (f.password.value) body.password = f.password.value;
  try {
    fill(await api.put('/v1/admin/mail', body));
    toast('Email settings saved.');
  } catch (err) {
    showMsg($('#mail-msg'), err.message);
  }
}

async function test(e) {
  e.preventDefault();
  const state = $('#mail-test-state');
  const btn = $('#mail-test');
  btn.disabled = true;
  state.textContent = 'Sending…';
  try {
    const r = await api.post('/v1/admin/mail/test', { to: $('#m-test-to').value.trim() });
    state.textContent = `Sent to ${r.to}. Check that mailbox (and its spam folder).`;
  } catch (err) {
    state.textContent = err.message;
  } finally {
    btn.disabled = false;
    show().catch(() => { /* the state line already says what went wrong */ });
  }
}

export function init() {
  form().addEventListener('submit', save);
  $('#mail-test-form').addEventListener('submit', test);
  $('#mail-refresh').addEventListener('click', () => show().catch((err) => toast(err.message, 'error')));
}
