// Availability: the away switch, business hours (a weekly schedule in a
// time zone, holidays), the reply time promised within hours, and the
// texts visitors see, per language.
import * as api from '../shared/api.js';
import { $, clear, h, showMsg, toast } from '../shared/dom.js';

const form = () => $('#hours-form');
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const ORDER = [1, 2, 3, 4, 5, 6, 0];
let view = null; // the last answer: settings, status, keys, defaults
let texts = {}; // lang → key → text, being edited

const SPAN = /^(\d\d:\d\d)\s*-\s*(\d\d:\d\d)$/;

// spans parses "09:00-12:00, 13:00-17:00" for day d.
function spans(d, text) {
  const out = [];
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = SPAN.exec(part);
    if (!m) throw new Error(`${DAYS[d]}: write hours like 09:00-17:30 (got "${part}")`);
    out.push({ day: d, from: m[1], to: m[2] });
  }
  return out;
}

// localInput shows an instant in the datetime-local field (the admin's zone).
function localInput(iso) {
  if (!iso) return '';
  const t = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}`;
}

function statusText(st) {
  if (st.state === 'online') return `Now: online (${st.online} ${st.online === 1 ? 'person' : 'people'} taking chats).`;
  if (st.state === 'soon') return `Now: open, nobody online — visitors are told you usually reply within ${st.reply_minutes} min.`;
  return `Now: away${st.until ? ` until ${new Date(st.until).toLocaleString()}` : ''} — visitors are asked for their email.`;
}

function drawTexts() {
  const lang = $('#h-lang').value;
  const box = $('#h-texts');
  clear(box);
  for (const k of view.keys) {
    const id = `h-text-${k}`;
    const ta = h('textarea', { id, rows: 2, maxlength: 500, placeholder: view.defaults[lang]?.[k] || '' });
    ta.value = texts[lang]?.[k] || '';
    ta.addEventListener('input', () => { texts[lang] = { ...texts[lang], [k]: ta.value }; });
    box.append(h('label', { for: id, text: k }), ta);
  }
}

function fill(v) {
  view = v;
  const s = v.settings;
  const f = form().elements;
  f.away.checked = s.away;
  f.away_until.value = localInput(s.away_until);
  f.time_zone.value = s.time_zone;
  f.holidays.value = (s.holidays || []).join('\n');
  f.reply_minutes.value = s.reply_minutes;
  const days = $('#h-days');
  clear(days);
  for (const d of ORDER) {
    const txt = (s.hours || []).filter((x) => x.day === d).map((x) => `${x.from}-${x.to}`).join(', ');
    const id = `h-day-${d}`;
    days.append(h('label', { for: id, text: DAYS[d] }), h('input', { id, name: `day${d}`, value: txt, spellcheck: 'false', placeholder: 'closed' }));
  }
  texts = structuredClone(s.texts || {});
  const sel = $('#h-lang');
  if (!sel.options.length) {
    for (const l of Object.keys(v.defaults)) sel.append(h('option', { value: l, text: l }));
  }
  drawTexts();
  $('#hours-now').textContent = statusText(v.status);
}

export async function show() {
  fill(await api.get('/v1/admin/availability'));
}

async function save(e) {
  e.preventDefault();
  showMsg($('#hours-msg'), '');
  const f = form().elements;
  try {
    const hours = ORDER.flatMap((d) => spans(d, f[`day${d}`].value));
    const body = {
      away: f.away.checked,
      time_zone: f.time_zone.value.trim(),
      hours,
      holidays: f.holidays.value.split(/\s+/).filter(Boolean),
      reply_minutes: Number(f.reply_minutes.value),
      texts,
    };
    if (f.away.checked && f.away_until.value) body.away_until = new Date(f.away_until.value).toISOString();
    fill(await api.put('/v1/admin/availability', body));
    toast('Availability saved.');
  } catch (err) {
    showMsg($('#hours-msg'), err.message);
  }
}

export function init() {
  form().addEventListener('submit', save);
  $('#h-lang').addEventListener('change', drawTexts);
  const list = $('#h-tz-list');
  for (const z of (Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : ['UTC'])) list.append(h('option', { value: z }));
}
