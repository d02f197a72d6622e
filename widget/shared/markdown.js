/* Kefu markdown: the strict subset answers and agents may use, rendered as
 * DOM nodes — never through innerHTML — by the widget, the agent console
 * and the admin page (one source file: widget/shared/markdown.js, served
 * as /assets/<hash>/shared/markdown.js beside public/shared/).
 *
 * What it knows: paragraphs (blank lines), line breaks (kept as newlines:
 * the surfaces style messages white-space: pre-wrap), *emphasis* and
 * _emphasis_, **strong** and __strong__, `code`, fenced ``` code blocks,
 * lists ("- ", "* ", "+ ", "1. "), links [text](url) and bare http(s)
 * addresses. Links go to http:, https: or mailto: only (a relative one is
 * resolved against opts.base first), open in a new tab with
 * rel="noopener noreferrer"; anything else stays text. No images (their
 * markdown stays text), no headings, no raw HTML: every character of the input ends up in a text
 * node or an href that passed the check. */

const SCHEMES = new Set(['http:', 'https:', 'mailto:']);
const MAX_DEPTH = 8; // nested emphasis deeper than this stays text

/** safeURL returns the absolute URL for href if it may be a link, else ''. */
export function safeURL(href, base) {
  const raw = String(href).trim();
  // Control characters and spaces inside a URL are how "java\tscript:" and
  // friends slip past naive checks: refuse them outright.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (!raw || /[\u0000-\u001f\u007f\s]/.test(raw)) return '';
  let u;
  try { u = new URL(raw, base || undefined); } catch { return ''; }
  if (!SCHEMES.has(u.protocol)) return '';
  if (u.protocol !== 'mailto:' && !u.host) return '';
  return u.href;
}

/** renderMarkdown turns text into a DocumentFragment. */
export function renderMarkdown(text, opts = {}) {
  const doc = opts.document || document;
  const frag = doc.createDocumentFragment();
  const lines = String(text ?? '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i++; continue; }
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      const pre = doc.createElement('pre');
      const code = doc.createElement('code');
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++; // the closing fence, if any
      code.textContent = body.join('\n');
      pre.append(code);
      frag.append(pre);
      continue;
    }
    const item = listItem(line);
    if (item) {
      const list = doc.createElement(item.ordered ? 'ol' : 'ul');
      while (i < lines.length) {
        const it = listItem(lines[i]);
        if (!it || it.ordered !== item.ordered) break;
        const li = doc.createElement('li');
        let content = it.text;
        i++;
        // Lines indented under an item continue it.
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !listItem(lines[i])) content += '\n' + lines[i++].trim();
        inline(doc, li, content, opts, 0);
        list.append(li);
      }
      frag.append(list);
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !listItem(lines[i]) && !/^\s*(```|~~~)/.test(lines[i])) para.push(lines[i++]);
    const p = doc.createElement('p');
    inline(doc, p, para.join('\n'), opts, 0);
    frag.append(p);
  }
  return frag;
}

/** renderInto replaces el's children with text rendered. */
export function renderInto(el, text, opts = {}) {
  el.replaceChildren(renderMarkdown(text, { document: el.ownerDocument, ...opts }));
}

function listItem(line) {
  let m = /^\s{0,3}[-*+]\s+(.*)$/.exec(line);
  if (m && !/^\s{0,3}([-*])(\s*\1){2,}\s*$/.test(line)) return { ordered: false, text: m[1] };
  m = /^\s{0,3}\d{1,9}[.)]\s+(.*)$/.exec(line);
  if (m) return { ordered: true, text: m[1] };
  return null;
}

// inline appends the inline content of s to parent.
function inline(doc, parent, s, opts, depth) {
  let text = '';
  const flush = () => { if (text) { appendText(doc, parent, text); text = ''; } };
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length && /[\\`*_[\]()!<>#+\-.]/.test(s[i + 1])) { text += s[i + 1]; i += 2; continue; }
    if (c === '`') {
      const n = run(s, i, '`');
      const end = s.indexOf('`'.repeat(n), i + n);
      if (end > i) {
        flush();
        const code = doc.createElement('code');
        code.textContent = s.slice(i + n, end).replace(/^ (.*) $/s, '$1');
        parent.append(code);
        i = end + n;
        continue;
      }
      text += s.slice(i, i + n); i += n; continue;
    }
    if ((c === '*' || c === '_') && depth < MAX_DEPTH) {
      const n = Math.min(run(s, i, c), 2);
      const end = closer(s, i + n, c.repeat(n));
      // "_" inside a word (snake_case) is text; an opener needs text after it.
      const wordy = c === '_' && i > 0 && /\w/.test(s[i - 1]);
      if (end > i + n && !wordy && !/\s/.test(s[i + n])) {
        flush();
        const el = doc.createElement(n === 2 ? 'strong' : 'em');
        inline(doc, el, s.slice(i + n, end), opts, depth + 1);
        parent.append(el);
        i = end + n;
        continue;
      }
    }
    if (c === '!' && s[i + 1] === '[') {
      // An image: never drawn (nothing is fetched to show a message), and
      // not a link either: the text as written.
      const img = parseLink(s, i + 1);
      if (img) { text += s.slice(i, img.end); i = img.end; continue; }
    }
    if (c === '[') {
      const link = parseLink(s, i);
      if (link) {
        const href = safeURL(link.href, opts.base);
        flush();
        if (href) {
          const a = doc.createElement('a');
          a.href = href;
          a.target = '_blank';
          a.rel = 'noopener noreferrer';
          inline(doc, a, link.text, { ...opts, noLinks: true }, depth + 1);
          if (!a.textContent) a.textContent = href;
          parent.append(a);
        } else {
          text += s.slice(i, link.end); // not a link we allow: the text as written
          flush();
        }
        i = link.end;
        continue;
      }
    }
    if (!opts.noLinks && (c === 'h' || c === 'H') && (i === 0 || /[\s(<"']/.test(s[i - 1]))) {
      const m = /^https?:\/\/[^\s<>"'`]+/i.exec(s.slice(i));
      if (m) {
        const url = m[0].replace(/[.,;:!?)\]]+$/, '');
        const href = safeURL(url);
        if (href) {
          flush();
          const a = doc.createElement('a');
          a.href = href;
          a.target = '_blank';
          a.rel = 'noopener noreferrer';
          a.textContent = url;
          parent.append(a);
          i += url.length;
          continue;
        }
      }
    }
    text += c;
    i++;
  }
  flush();
}

// appendText adds text as it is: a line break inside a paragraph stays a
// newline, which the surfaces show (white-space: pre-wrap), so a copied or
// read-out message keeps its lines.
function appendText(doc, parent, text) {
  parent.append(doc.createTextNode(text));
}

function run(s, i, c) {
  let n = 0;
  while (s[i + n] === c) n++;
  return n;
}

// closer finds the closing delimiter for an opener ending at from: not
// preceded by a space, not followed by another delimiter character, and
// for "_" not followed by a letter or digit either (CommonMark's rule:
// "a __b c.__d" is text, or window.__xss in a pasted snippet turns bold).
function closer(s, from, delim) {
  for (let k = s.indexOf(delim, from); k > 0; k = s.indexOf(delim, k + 1)) {
    const after = s[k + delim.length] || '';
    if (k > from && !/\s/.test(s[k - 1]) && after !== delim[0] && !(delim[0] === '_' && /\w/.test(after))) return k;
  }
  return -1;
}

// parseLink reads [text](href) at i, brackets balanced, no newline in the
// address; null if there is none.
function parseLink(s, i) {
  let depth = 0;
  let k = i;
  for (; k < s.length; k++) {
    if (s[k] === '\\') { k++; continue; }
    if (s[k] === '[') depth++;
    else if (s[k] === ']' && --depth === 0) break;
  }
  if (k >= s.length || s[k + 1] !== '(') return null;
  let d = 0;
  let j = k + 2;
  for (; j < s.length; j++) {
    if (s[j] === '\n' || s[j] === ' ' && s[j + 1] !== '"') return null;
    if (s[j] === '(') d++;
    else if (s[j] === ')' && d-- === 0) break;
  }
  if (j >= s.length) return null;
  let href = s.slice(k + 2, j);
  const title = / "[^"]*"$/.exec(href);
  if (title) href = href.slice(0, title.index);
  return { text: s.slice(i + 1, k), href, end: j + 1 };
}
