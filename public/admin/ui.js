// The admin page's own widgets: labelled fields, the one dialog, durations.
// The helpers both pages share are in ../shared/dom.js.

import { $, clear, h, showMsg } from '../shared/dom.js';

// duration formats milliseconds as "45 s", "3 min 20 s", "2 h 5 min".
export function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
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
export function dialog({ title, body = [], ok = 'OK', danger = false, wide = false, onOK = async () => {} }) {
  const dlg = $('#dlg');
  dlg.classList.toggle('wide', wide);
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
