// AI settings. The key field is write-only: the relay never sends the key
// back, only whether one is set and for which host.
import * as api from '../shared/api.js';
import { $, h, showMsg, toast } from '../shared/dom.js';

const form = () => $('#ai-form');
let running = null;

function keyState(s) {
  if (s.has_key) return `A key is set for ${s.key_host}. Leave the field empty to keep it.`;
  if (s.key_host) return `A key is stored for ${s.key_host}, but this base URL is another host: it is not sent there until you enter it again.`;
  return 'No key set.';
}

function fill(s) {
  const f = form().elements;
  f.enabled.checked = s.enabled;
  f.base_url.value = s.base_url;
  f.model.value = s.model;
  f.system_prompt.value = s.system_prompt;
  f.temperature.value = s.temperature;
  f.max_answer_tokens.value = s.max_answer_tokens;
  f.context_tokens.value = s.context_tokens;
  f.api_key.value = '';
  f.api_key.placeholder = s.has_key ? 'key set' : 'no key';
  f.remove_key.checked = false;
  f.remove_key.disabled = !s.key_host;
  $('#ai-key-state').textContent = keyState(s);
}

export async function show() {
  fill(await api.get('/v1/admin/ai'));
}

async function save(e) {
  e.preventDefault();
  const f = form().elements;
  const patch = {
    enabled: f.enabled.checked,
    base_url: f.base_url.value.trim(),
    model: f.model.value.trim(),
    system_prompt: f.system_prompt.value,
    temperature: Number(f.temperature.value),
    max_answer_tokens: Number(f.max_answer_tokens.value),
    context_tokens: Number(f.context_tokens.value),
  };
  if (f.remove_key.checked) patch.api_key = '';
  else if (f.api_key.value.trim()) patch.api_key = f.api_key.value.trim();
  showMsg($('#ai-msg'), '');
  try {
    fill(await api.patch('/v1/admin/ai', patch));
    toast('AI settings saved.');
  } catch (err) {
    showMsg($('#ai-msg'), err.message);
  }
}

// test streams the answer into the output box token by token.
async function test() {
  const out = $('#ai-test-out');
  const state = $('#ai-test-state');
  const btn = $('#ai-test');
  out.textContent = '';
  out.classList.remove('failed');
  out.setAttribute('aria-busy', 'true');
  btn.disabled = true;
  state.textContent = 'Asking the model…';
  running = new AbortController();
  try {
    await api.events('/v1/admin/ai/test', (name, d) => {
      if (name === 'start') state.textContent = `Asking ${d.model} at ${d.base_url}…`;
      if (name === 'delta') out.append(h('span', { class: 'tok', text: d.text }));
      if (name === 'done') state.textContent = `Answered: first words after ${d.ms_first_token} ms, complete after ${d.ms_total} ms (${d.finish_reason}).`;
      if (name === 'error') {
        out.classList.add('failed');
        state.textContent = `Failed (${d.kind}${d.status ? `, HTTP ${d.status}` : ''}): ${d.message}`;
      }
    }, running.signal);
  } catch (err) {
    state.textContent = err.message;
  } finally {
    out.removeAttribute('aria-busy');
    btn.disabled = false;
    running = null;
  }
}

export function init() {
  form().addEventListener('submit', save);
  $('#ai-test').addEventListener('click', () => test());
}
