// Widget settings, the tag to embed, and a preview: a sketch that follows
// the form as you type, and the demo shop reloaded after each save.
import * as api from '../shared/api.js';
import { $, clear, dateTime, h, showMsg, toast } from '../shared/dom.js';
import { fmt, ratio, textOn } from '../shared/contrast.js';
import * as identity from './identity.js';

const form = () => $('#widget-form');
let zIndex = 0;
let relaySites = [];

const siteName = (origin) => (origin === 'null' ? 'pages without an origin (opened from a file, or in a sandboxed frame)' : origin);

// refused shows the sites whose pages the relay refused lately: a banner
// on every tab, and the list beside "Allowed sites" with a button each.
function refused(list) {
  const names = list.slice(0, 3).map((r) => siteName(r.origin)).join(', ') + (list.length > 3 ? ` and ${list.length - 3} more` : '');
  $('#refused-text').textContent = list.length
    ? `The widget was refused on ${names}: ${list.length === 1 ? 'that site is' : 'those sites are'} not in the allowed sites, so visitors there cannot chat.`
    : '';
  $('#refused-banner').hidden = !list.length;
  const ul = $('#w-refused-list');
  clear(ul);
  for (const r of list) {
    ul.append(h('li', {},
      h('strong', { text: siteName(r.origin) }),
      ` — ${r.count} ${r.count === 1 ? 'time' : 'times'}, last ${dateTime(Date.parse(r.last))} `,
      r.origin === 'null' ? null : h('button', { type: 'button', class: 'link', dataset: { origin: r.origin }, text: 'Allow', onclick: () => allow(r.origin) })));
  }
  $('#w-refused').hidden = !list.length;
}

// allow adds a refused site to the list in the form (saved with Save). An
// empty list means the relay's --allowed-origins: they are kept, since a
// saved list replaces them.
function allow(origin) {
  const f = form().elements.allowed_sites;
  const sites = f.value.split('\n').map((s) => s.trim()).filter(Boolean);
  const host = new URL(origin).host;
  if (!sites.length) sites.push(...relaySites);
  if (!sites.includes(host)) sites.push(host);
  f.value = sites.join('\n');
  f.focus();
  toast(`Added ${host}. Save to let its pages chat.`);
}

// checkRefused refreshes the refused sites (the banner shows on every tab).
export async function checkRefused() {
  refused((await api.get('/v1/admin/widget')).refused_sites || []);
}

// Per-language texts: the languages the widget speaks (with their default
// title and greeting), the texts written so far, and the one being edited.
let languages = [];
let translations = {};
let trLang = '';
const defaults = () => languages.find((l) => l.lang === 'en') || { title: '', greeting: '' };

// keepTr takes what is in the two fields into translations.
function keepTr() {
  if (!trLang) return;
  const t = { title: $('#w-tr-title').value.trim(), greeting: $('#w-tr-greeting').value.trim() };
  if (t.title || t.greeting) translations[trLang] = t;
  else delete translations[trLang];
}

// showTr fills the language list (marking translated ones) and the fields.
function showTr() {
  const sel = $('#w-tr-lang');
  if (!trLang) trLang = (languages.find((l) => l.lang !== 'en') || languages[0] || {}).lang || '';
  sel.replaceChildren(...languages.map((l) => {
    const o = document.createElement('option');
    o.value = l.lang;
    o.textContent = `${l.name} (${l.lang})${translations[l.lang] ? ' — written' : ''}`;
    return o;
  }));
  sel.value = trLang;
  const l = languages.find((x) => x.lang === trLang);
  if (!l) return;
  const f = form().elements, t = translations[trLang] || {};
  for (const [id, key] of [['#w-tr-title', 'title'], ['#w-tr-greeting', 'greeting']]) {
    const input = $(id);
    input.value = t[key] || '';
    input.lang = l.lang;
    input.dir = l.dir;
    // What visitors in this language see while this stays empty.
    input.placeholder = f[key].value.trim() === defaults()[key] ? l[key] : f[key].value.trim();
  }
  for (const n of form().querySelectorAll('.tr-name')) n.textContent = l.name;
}

function fill(v) {
  const f = form().elements;
  const s = v.settings;
  f.title.value = s.title;
  f.greeting.value = s.greeting;
  f.color.value = s.color;
  f.position.value = s.position;
  f.z_index.value = s.z_index;
  f.allowed_sites.value = s.allowed_sites.join('\n');
  relaySites = v.relay_sites || [];
  f.allowed_sites.placeholder = relaySites.length ? `Empty: the relay's list is in force:\n${relaySites.join('\n')}` : 'Empty: any site may embed the widget';
  f.fingerprint.checked = s.fingerprint;
  f.store_days.value = s.store_days;
  f.privacy_notice.value = s.privacy_notice;
  f.privacy_url.value = s.privacy_url;
  zIndex = s.z_index;
  $('#w-embed').textContent = v.embed;
  refused(v.refused_sites || []);
  languages = v.languages || [];
  translations = { ...(s.translations || {}) };
  showTr();
  sketch();
}

// contrast says how the brand colour reads, as the widget will draw it:
// the text colour it picks (black or white) with its ratio, a warning
// when white text would fall below WCAG's 4.5:1, and a note when the
// colour is too light to stand out on the chat's background (3:1), where
// the widget uses a darker shade for focus rings.
function contrast(c) {
  const fg = textOn(c);
  const white = ratio(c, '#ffffff');
  const lines = [h('p', { text: `Text on this colour: ${fg === '#ffffff' ? 'white' : 'black'}, ${fmt(ratio(c, fg))} (WCAG AA asks 4.5:1).` })];
  if (white < 4.5) {
    lines.push(h('p', { class: 'alert warn', text: `White text would be only ${fmt(white)}, below 4.5:1: the widget shows black text on this colour instead.` }));
  }
  if (white < 3) {
    lines.push(h('p', { class: 'muted', text: `On the chat's white background this colour is ${fmt(white)}, below 3:1: focus rings use a darker shade of it.` }));
  }
  $('#w-contrast').replaceChildren(...lines);
  return fg;
}

// sketch redraws the mock launcher and panel from the form.
function sketch() {
  const f = form().elements;
  const mock = $('#w-mock');
  const c = /^#[0-9a-f]{6}$/i.test(f.color.value) ? f.color.value : '#2563eb';
  mock.style.setProperty('--c', c);
  mock.style.setProperty('--fg', contrast(c));
  mock.classList.toggle('left', f.position.value === 'left');
  $('.mock-head', mock).textContent = f.title.value;
  $('.mock-greet', mock).textContent = f.greeting.value;
}

function reloadPreview() {
  $('#w-frame').src = `/demo?preview=${Date.now()}`;
}

export async function show() {
  identity.show().catch((err) => toast(err.message, 'error'));
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
    fingerprint: f.fingerprint.checked,
    store_days: Number(f.store_days.value),
    privacy_notice: f.privacy_notice.value.trim(),
    privacy_url: f.privacy_url.value.trim(),
  };
  keepTr();
  body.translations = translations;
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
  $('#w-tr-lang').addEventListener('change', (e) => { keepTr(); trLang = e.target.value; showTr(); });
  form().elements.title.addEventListener('change', () => { keepTr(); showTr(); });
  form().elements.greeting.addEventListener('change', () => { keepTr(); showTr(); });
  $('#w-copy').addEventListener('click', () => copy());
  identity.init();
}
