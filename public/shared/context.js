// Visitor context as the console and the admin page show it (docs/privacy.md,
// "Visitor context"): the visitor's local time and zone, browser and OS,
// language, the referrer of their visit, visits; and the page a visitor's
// message was written on. Everything the page or the visitor said is set
// as text; an address becomes a link only when it is http(s).

import { h, dateTime, fullTime, when, clip } from './dom.js';

// httpHref is the URL when it is http(s), else null (shown as text).
export function httpHref(s) {
  try {
    const u = new URL(s);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
  } catch { /* not a URL */ }
  return null;
}

// link is a safe link to an http(s) address, or the address as text.
export function link(url, text) {
  const href = httpHref(url);
  return href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow', referrerpolicy: 'no-referrer', dir: 'auto' }, text || url) : h('span', { dir: 'auto' }, text || url);
}

// pageNode is the line under a visitor's message naming the page it was
// written on: its title (or path), linked to the address.
export function pageNode(url, title) {
  if (!url) return null;
  const path = (() => { try { return new URL(url).pathname; } catch { return url; } })();
  return h('div', { class: 'page-at', title: url },
    h('span', { class: 'sr-only' }, 'Written on '),
    h('span', { 'aria-hidden': 'true' }, 'on '),
    link(url, clip(title || path, 80)));
}

// localTime is the time now in zone tz ("Tue 14:05"), or '' for a zone
// this browser does not know.
export function localTime(tz, now = new Date()) {
  try {
    return new Intl.DateTimeFormat(undefined, { timeZone: tz, weekday: 'short', hour: '2-digit', minute: '2-digit' }).format(now);
  } catch {
    return '';
  }
}

// offsetFromYou says how far the visitor's clock is from the reader's
// ("3 h ahead of you"), '' when the same or unknown.
export function offsetFromYou(tz, now = new Date()) {
  try {
    const at = (zone) => {
      const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' })
        .formatToParts(now).map((x) => [x.type, x.value]));
      return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute);
    };
    const mins = Math.round((at(tz) - at(undefined)) / 60000);
    if (!mins) return '';
    const hrs = Math.abs(mins) / 60;
    const n = Number.isInteger(hrs) ? `${hrs} h` : `${Math.floor(hrs)} h ${Math.abs(mins) % 60} min`;
    return `${n} ${mins > 0 ? 'ahead of' : 'behind'} you`;
  } catch {
    return '';
  }
}

// contextRows are the dt/dd pairs of a visitor's context (c: the relay's
// "context" object; created: when the visitor was first seen, ms).
export function contextRows(c, created) {
  c = c || {};
  const rows = [];
  const row = (term, ...dd) => rows.push(h('dt', null, term), h('dd', { dir: 'auto' }, ...dd));
  if (c.time_zone) {
    const t = localTime(c.time_zone);
    const off = offsetFromYou(c.time_zone);
    row('local time', t ? h('span', { 'data-local-time': '' }, t) : null, t ? ' ' : null,
      h('span', { class: 'muted' }, `(${c.time_zone}${off ? `, ${off}` : ''})`));
  }
  if (c.browser || c.os) row('browser', [c.browser, c.os].filter(Boolean).join(' on '));
  if (c.locale) row('browser language', c.locale);
  if (c.referrer) row('came from', link(c.referrer));
  if (c.visits) {
    const since = c.visit_start ? ` — this one since ${when(Date.parse(c.visit_start))}` : '';
    row('visits', `${c.visits}${since}`);
  }
  if (c.last_seen) row('last seen', h('time', { datetime: c.last_seen, title: fullTime(Date.parse(c.last_seen)) }, dateTime(Date.parse(c.last_seen))));
  if (created) row('first seen', h('time', { datetime: new Date(created).toISOString() }, dateTime(created)));
  return rows;
}
