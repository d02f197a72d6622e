// Signed identity (Widget tab): the secret the shop's server signs its
// users' ids with — write-only, like the AI key: the page says only
// whether one is set, and shows a new one once, when it is generated —
// and whether unsigned identities are refused. Flags on the relay
// override both (the page says so and disables the controls).
import * as api from '../shared/api.js';
import { $, showMsg, toast } from '../shared/dom.js';

function fill(v) {
  const state = $('#id-state');
  if (v.secret_source === 'flag') state.textContent = 'A secret is set by the relay\'s configuration (--identity-secret); change it there.';
  else state.textContent = v.secret_set ? 'A secret is set. It is never shown again; generate a new one to rotate it.' : 'No secret set: identities are not verified.';
  $('#id-generate').disabled = v.secret_source === 'flag';
  $('#id-remove').disabled = v.secret_source !== 'admin';
  const req = $('#id-require');
  req.checked = v.require;
  req.disabled = v.require_from_flag || !v.secret_set;
  $('#id-require-note').textContent = v.require_from_flag ? 'On by the relay\'s configuration (--require-signed-identity).' : '';
}

export async function show() {
  fill(await api.get('/v1/admin/identity'));
}

async function act(fn) {
  showMsg($('#id-msg'), '');
  try {
    await fn();
  } catch (err) {
    showMsg($('#id-msg'), err.message);
    show().catch(() => { /* the message already says what went wrong */ });
  }
}

export function init() {
  $('#id-generate').addEventListener('click', () => act(async () => {
    const r = await api.post('/v1/admin/identity/secret', {});
    fill(r.view);
    const out = $('#id-new');
    out.hidden = false;
    $('#id-new-secret').textContent = r.secret;
    toast('New identity secret generated: give it to your server now; the old one no longer verifies.');
  }));
  $('#id-remove').addEventListener('click', () => act(async () => {
    fill(await api.del('/v1/admin/identity/secret'));
    $('#id-new').hidden = true;
    toast('Identity secret removed.');
  }));
  $('#id-require').addEventListener('change', (e) => act(async () => {
    fill(await api.put('/v1/admin/identity', { require: e.target.checked }));
    toast(e.target.checked ? 'Unsigned identities are now refused.' : 'Unsigned identities are accepted (marked unverified).');
  }));
}
