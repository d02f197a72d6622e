// DOM helpers of the admin page and the agent console. Text from visitors,
// agents, admins and the model reaches the page only as text nodes
// (textContent) or as attribute values set one by one: nothing here parses
// HTML. Links are made only by richText, and only from http(s) and mailto
// URLs found in the text.

// h builds an element: h('div', {class: 'x', text: 'hi', dataset: {id}}, child…).
export function h(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'hidden') e.hidden = true;
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids.flat()) {
    if (c == null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export const $ = (sel, root = document) => root.querySelector(sel);

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
}

// showMsg fills an alert paragraph (empty text hides it).
export function showMsg(el, text) {
  el.textContent = text || '';
  el.hidden = !text;
}

let toastTimer = 0;
// toast says something briefly in the page's #toast line (read out too).
export function toast(text, kind = '', ms = 5000) {
  const t = $('#toast');
  t.textContent = text;
  t.dataset.kind = kind;
  t.classList.add('on');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove('on'), ms);
}

// clip shortens text for one-line places (table cells, notifications,
// labels); the whole text belongs in a title.
export function clip(s, n = 120) {
  const t = String(s ?? '').replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

// when is a compact time: the hour today, else the day.
export function when(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return new Date().toDateString() === d.toDateString() ? timeFmt.format(d) : dayFmt.format(d);
}
// dateTime is the day and the minute ("12 Mar 2026, 14:05").
export const dateTime = (ms) => (ms ? dateTimeFmt.format(new Date(ms)) : '');
// fullTime is everything down to the second, for titles.
export const fullTime = (ms) => (ms ? new Date(ms).toLocaleString() : '');

// safeHref returns the normalised URL when it is http, https or mailto,
// else null. Everything else (javascript:, data:, vbscript:, relative
// paths) stays plain text.
export function safeHref(s) {
  try {
    const u = new URL(s);
    if (u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'mailto:') return u.href;
  } catch { /* not a URL */ }
  return null;
}

const LINK = /\b(?:https?:\/\/|mailto:)[^\s<>"'`]+/gi;

// richText turns message text into text nodes plus links for the URLs in
// it (strict allow-list). No markdown: `![x](url)` stays literal text, and
// nothing is ever fetched to show a message.
export function richText(text) {
  const frag = document.createDocumentFragment();
  const s = String(text ?? '');
  let last = 0;
  for (const m of s.matchAll(LINK)) {
    const raw = m[0].replace(/[.,;:!?)\]}'"]+$/, '');
    const href = safeHref(raw);
    if (!href || m.index < last) continue;
    if (m.index > last) frag.append(document.createTextNode(s.slice(last, m.index)));
    frag.append(h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow', referrerpolicy: 'no-referrer' }, raw));
    last = m.index + raw.length;
  }
  if (last < s.length) frag.append(document.createTextNode(s.slice(last)));
  return frag;
}

// announce speaks text to screen readers through the page's #announce
// region (role=log, polite), once: the lists that show messages are not
// live regions themselves, since they redraw.
export function announce(text) {
  const region = $('#announce');
  if (!region || !text) return;
  region.append(h('p', { text }));
  while (region.childElementCount > 5) region.firstChild.remove();
}
