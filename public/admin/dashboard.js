// Dashboard: conversations per day, who answered, first response, queue.
import * as api from '../shared/api.js';
import { $, clear, h } from '../shared/dom.js';
import { duration } from './ui.js';
import { sweepText } from './privacy.js';

const SHARES = [
  ['intents_browser', 'FAQ in the browser (instant)', 'c1'],
  ['intents_relay', 'FAQ on the relay', 'c2'],
  ['ai', 'AI', 'c3'],
  ['people', 'People', 'c4'],
  ['unanswered', 'Not answered yet', 'c5'],
];

const pct = (n, total) => (total ? Math.round((n / total) * 100) : 0);

function card(label, value, note = '') {
  return h('div', { class: 'stat' }, h('p', { class: 'stat-v', text: value }), h('p', { class: 'stat-l', text: label }),
    note ? h('p', { class: 'muted', text: note }) : null);
}

function render(d) {
  clear($('#dash-cards'));
  const fr = d.first_response;
  $('#dash-cards').append(
    card('Conversations', String(d.conversations)),
    card('Waiting for a person now', String(d.queue)),
    card('Open now', String(d.open)),
    card('Agents online', String(d.agents_online)),
    card('Median first response', fr.count ? duration(fr.median_ms) : '—', fr.count ? `over ${fr.count} hand-offs` : 'no hand-off answered yet'),
  );

  const max = Math.max(1, ...d.days.map((x) => x.conversations));
  const chart = $('#dash-days');
  clear(chart);
  const rows = $('#dash-days-table tbody');
  clear(rows);
  for (const day of d.days) {
    const bar = h('div', { class: 'col-bar' });
    // CSSOM, not a style attribute: the page's CSP allows only admin.css.
    bar.style.height = `${(day.conversations / max) * 100}%`;
    chart.append(h('div', { class: 'col', title: `${day.date}: ${day.conversations}` },
      h('span', { class: 'col-n', text: day.conversations || '' }), bar, h('span', { class: 'col-d', text: day.date.slice(5) })));
    rows.append(h('tr', {}, h('td', { text: day.date }), h('td', { text: String(day.conversations) })));
  }

  const share = $('#dash-share');
  const legend = $('#dash-legend');
  clear(share);
  clear(legend);
  for (const [key, label, cls] of SHARES) {
    const n = d.answered[key];
    if (n) {
      const seg = h('div', { class: `seg ${cls}` });
      seg.style.width = `${pct(n, d.conversations)}%`;
      share.append(seg);
    }
    legend.append(h('li', {}, h('span', { class: `dot ${cls}` }), `${label}: ${n} (${pct(n, d.conversations)} %)`));
  }
  csat(d.csat);
  const a = d.answers;
  $('#dash-note').textContent = `Answers sent: ${a.browser} instant FAQ, ${a.relay} FAQ on the relay, ${a.ai} by the AI, ${a.agent} by people. Computed in ${d.took_ms} ms.`;
}

// csat shows the visitors' ratings: all, by agent, by week.
function csat(c) {
  if (!c) return;
  const avg = (s) => (s.count ? s.average.toFixed(2) : '—');
  const sat = (s) => (s.count ? `${pct(s.satisfied, s.count)} %` : '—');
  clear($('#dash-csat-cards'));
  $('#dash-csat-cards').append(
    card('Average rating (1–5)', avg(c), c.count ? `over ${c.count} ratings` : 'no rating yet'),
    card('Satisfied visitors', sat(c), c.count ? `${c.satisfied} of ${c.count} gave 4 or 5` : ''),
  );
  const row = (label, s) => h('tr', {}, h('td', { text: label }), h('td', { text: String(s.count) }), h('td', { text: avg(s) }), h('td', { text: sat(s) }));
  const agents = $('#dash-csat-agents tbody');
  clear(agents);
  for (const s of c.by_agent || []) agents.append(row(s.name, s));
  if (!c.by_agent?.length) agents.append(h('tr', {}, h('td', { colspan: '4', class: 'muted', text: 'No rating in these days.' })));
  const weeks = $('#dash-csat-weeks tbody');
  clear(weeks);
  for (const s of c.by_week || []) weeks.append(row(s.week, s));
}

export async function show() {
  const [d, ret] = await Promise.all([
    api.get(`/v1/admin/dashboard?days=14&tz_offset=${-new Date().getTimezoneOffset()}`), api.get('/v1/admin/retention')]);
  render(d);
  $('#dash-retention').textContent = sweepText(ret.retention, ret.sweep);
}

export function init() {
  $('#dash-refresh').addEventListener('click', () => show().catch(() => {}));
}
