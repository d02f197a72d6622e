// Widget settings, the tag to embed, and a preview: a sketch that follows
// the form as you type, and the demo shop reloaded after each save.
import * as api from '../shared/api.js';
import { $, showMsg, toast } from '../shared/dom.js';

const form = () => $('#widget-form');
let zIndex = 0;

function fill(v) {
  const f = form().elements;
  const s = v.settings;
  f.title.value = s.title;
  f.greeting.value = s.greeting;
  f.color.value = s.color;
  f.position.value = s.position;
  f.z_index.value = s.z_index;
  f.allowed_sites.value = s.allowed_sites.join('\n');
  zIndex = s.z_index;
  $('#w-embed').textContent = v.embed;
  sketch();
}

// sketch redraws the mock launcher and panel from the form.
function sketch() {
  const f = form().elements;
  const mock = $('#w-mock');
  mock.style.setProperty('--c', /^#[0-9a-f]{6}$/i.test(f.color.value) ? f.color.value : '#2563eb');
  mock.classList.toggle('left', f.position.value === 'left');
  $('.mock-head', mock).textContent = f.title.value;
  $('.mock-greet', mock).textContent = f.greeting.value;
}

function reloadPreview() {
  $('#w-frame').src = `/demo?preview=${Date.now()}`;
}

export async function show() {
  fill(await api.get('/v1/admin/widget'));
  if ($('#w-frame').src === 'about:blank') reloadPreview();
}

async function save(e) {
  e.preventDefault();
  const f = form().elements;
  const body = {
    title: f.title.value.trim(),
    greeting: f.greeting.value.trim(),
    color: f.color.value,
    position: f.position.value,
    z_index: f.z_index.value === '' ? zIndex : Number(f.z_index.value),
    allowed_sites: f.allowed_sites.value.split('\n').map((s) => s.trim()).filter(Boolean),
  };
  showMsg($('#widget-msg'), '');
  try {
    fill(await api.put('/v1/admin/widget', body));
    reloadPreview();
    toast('Widget settings saved. Pages get them at their next load.');
  } catch (err) {
    showMsg($('#widget-msg'), err.message);
  }
}

async function copy() {
  const text = $('#w-embed').textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (not a secure context): select it for Ctrl+C.
    const r = document.createRange();
    r.selectNodeContents($('#w-embed'));
    getSelection().removeAllRanges();
    getSelection().addRange(r);
    toast('Selected: press Ctrl+C (⌘C) to copy.');
    return;
  }
  toast('Copied the tag.');
}

export function init() {
  form().addEventListener('submit', save);
  form().addEventListener('input', sketch);
  $('#w-copy').addEventListener('click', () => copy());
}
