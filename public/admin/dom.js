// DOM helpers. Text from visitors, agents, admins and the model reaches the
// page only as text nodes (textContent) or as attribute values set one by
// one: nothing here parses HTML, and there are no links made from text.

// h builds an element: h('td', {class: 'x', text: 'hi', dataset: {id}}, child…).
export function h(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
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

// clip shortens text for a table cell; the whole text goes in the title.
export function clip(s, n = 120) {
  const t = String(s ?? '');
  return t.length > n ? `${t.slice(0, n)}…` : t;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const when = (ms) => (ms ? dateFmt.format(new Date(ms)) : '');

// duration formats milliseconds as "45 s", "3 min 20 s", "2 h 5 min".
export function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
}

let toastTimer = 0;
// toast says something briefly in the page's status line (read out too).
export function toast(text, kind = '') {
  const t = $('#toast');
  t.textContent = text;
  t.dataset.kind = kind;
  t.classList.add('on');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove('on'), 4000);
}

// showMsg fills an alert paragraph (empty text hides it).
export function showMsg(el, text) {
  el.textContent = text || '';
  el.hidden = !text;
}

// field builds a labelled input for dialogs: {name, label, type, value, …attrs}.
export function field({ label, name, type = 'text', value = '', rows, options, hint, ...attrs }) {
  const id = `f-${name}`;
  let input;
  if (options) {
    input = h('select', { id, name, ...attrs }, options.map(([v, t]) => h('option', { value: v, text: t, selected: v === value })));
  } else if (rows) {
    input = h('textarea', { id, name, rows, ...attrs });
    input.value = value;
  } else {
    input = h('input', { id, name, type, ...attrs });
    input.value = value;
  }
  const wrap = h('div', { class: 'field' }, h('label', { for: id, text: label }), input);
  if (hint) wrap.append(h('p', { class: 'muted', text: hint }));
  return wrap;
}

// dialog shows the page's one <dialog> with a title, a body (nodes) and
// an OK label. onOK(form) may throw to keep it open with the error shown;
// the promise resolves true after a successful OK, false on cancel.
export function dialog({ title, body = [], ok = 'OK', danger = false, onOK = async () => {} }) {
  const dlg = $('#dlg');
  const form = $('#dlg-form');
  const okBtn = $('#dlg-ok');
  $('#dlg-title').textContent = title;
  clear($('#dlg-body'));
  $('#dlg-body').append(...body);
  okBtn.textContent = ok;
  okBtn.classList.toggle('danger', danger);
  showMsg($('#dlg-msg'), '');
  return new Promise((resolve) => {
    const done = (v) => {
      form.removeEventListener('submit', submit);
      $('#dlg-cancel').removeEventListener('click', cancel);
      dlg.removeEventListener('cancel', cancel);
      if (dlg.open) dlg.close();
      resolve(v);
    };
    const cancel = (e) => { e.preventDefault(); done(false); };
    const submit = async (e) => {
      e.preventDefault();
      okBtn.disabled = true;
      try {
        await onOK(form);
        done(true);
      } catch (err) {
        showMsg($('#dlg-msg'), err.message);
      } finally {
        okBtn.disabled = false;
      }
    };
    form.addEventListener('submit', submit);
    $('#dlg-cancel').addEventListener('click', cancel);
    dlg.addEventListener('cancel', cancel);
    dlg.showModal();
    const first = $('#dlg-body').querySelector('input, select, textarea');
    (first || okBtn).focus();
  });
}
