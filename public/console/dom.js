// DOM helpers. Text from visitors, agents and the model only ever reaches
// the page as text nodes (textContent) or as attribute values set one by
// one; nothing here parses HTML. Links are made only from http(s) and
// mailto URLs found in the text.

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

// clip shortens text for one-line places (notifications, labels).
export function clip(s, n) {
  const t = String(s ?? '').replace(/\s+/g, ' ').trim();
  return t.length > n ? t.slice(0, n - 1) + '…' : t;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
export function when(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return new Date().toDateString() === d.toDateString() ? timeFmt.format(d) : dayFmt.format(d);
}
export const fullTime = (ms) => (ms ? new Date(ms).toLocaleString() : '');
