// Helpers for the agent console's browser tests (console.test.js): sign
// in, read what the console shows, create agent accounts through the
// admin API when the relay has it, and follow the agent socket's frames.
import { poll, launch, METRICS_TOKEN } from './harness.js';

// browser starts a Chromium context closed when the test ends (pass or
// fail), so one test's agents are never online in the next.
export async function browser(t, opts) {
  const ctx = await launch(opts);
  t.after(() => ctx.close().catch(() => {}));
  return ctx;
}

export const ADMIN = { username: 'admin', password: 'e2e-admin-password', name: 'Admin' }; // the harness's --admin-password

export const C = {
  async open(context, relay, { path = '/console/' } = {}) {
    const page = await context.newPage();
    await page.goto(relay.url + path);
    return page;
  },
  async signIn(page, who = ADMIN) {
    await page.locator('#signin-form').waitFor({ state: 'visible' });
    await page.fill('#username', who.username);
    await page.fill('#password', who.password);
    await page.click('#signin-btn');
    await page.locator('#app').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.querySelector('#conn')?.dataset.state === 'open', null, { timeout: 30_000 });
  },
  connected: (page) => page.evaluate(() => document.querySelector('#conn')?.dataset.state === 'open'),
  tab: (page, name) => page.locator(`#tab-${name}`),
  async showTab(page, name) { await C.tab(page, name).click(); },
  count: async (page, name) => Number(await page.locator(`[data-count=${name}]`).textContent()),
  entry: (page, conv) => page.locator(`.entry[data-conv="${conv}"]`),
  // entries lists the current tab's entries as shown.
  entries: (page) => page.evaluate(() => [...document.querySelectorAll('#list .entry')].map((e) => ({
    conv: e.dataset.conv,
    name: e.querySelector('.e-name').textContent,
    preview: e.querySelector('.e-preview').textContent,
    handler: e.querySelector('.e-handler').textContent,
    unread: e.querySelector('.e-unread').hidden ? 0 : parseInt(e.querySelector('.e-unread').textContent.replace(/\D+/, ''), 10),
  }))),
  async select(page, conv, tab = 'all') {
    await C.showTab(page, tab);
    await C.entry(page, conv).click();
    await page.locator('#conv').waitFor({ state: 'visible' });
  },
  // history is the open conversation's stored messages, in page order.
  history: (page) => page.evaluate(() => [...document.querySelectorAll('#stored .msg')].map((m) => ({
    seq: Number(m.dataset.seq), from: m.dataset.from, id: m.dataset.id,
    who: m.querySelector('.who')?.textContent ?? '', text: m.querySelector('.text').textContent,
    meta: m.querySelector('.meta').textContent,
  }))),
  streamText: (page) => page.evaluate(() => [...document.querySelectorAll('#streams .msg .text')].map((t) => t.textContent).join('')),
  pending: (page) => page.evaluate(() => [...document.querySelectorAll('#pending .msg')].map((m) => ({ id: m.dataset.pending, state: m.dataset.state, text: m.querySelector('.text').textContent }))),
  async reply(page, text) {
    await page.fill('#reply', text);
    await page.press('#reply', 'Enter');
  },
  handler: (page) => page.locator('#conv-handler').textContent(),
  // own makes the open conversation this agent's: taken over unless the
  // router gives it to them first. Which comes first is the relay's timing,
  // and Take over hides when it does: checked and clicked in one task of
  // the page, never a click left waiting for a button that went away.
  async own(page) {
    let took = false;
    await poll(async () => {
      if (/assigned to you/i.test(await C.handler(page))) return true;
      if (!took) took = await page.evaluate(() => { const b = document.querySelector('#take'); if (b.hidden) return false; b.click(); return true; });
      return false;
    }, { what: 'the conversation assigned to this agent' });
  },
};

// visitorConversation reads the widget's conversation id on a customer page.
export function visitorConversation(page) {
  return page.evaluate(() => {
    const key = Object.keys(localStorage).find((k) => k.endsWith(':session'));
    return key ? JSON.parse(localStorage.getItem(key)).conv || '' : '';
  });
}

// adminSession signs in over HTTP (no browser) for API calls.
export async function adminSession(relay, who = ADMIN) {
  const res = await fetch(`${relay.url}/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: who.username, password: who.password }),
  });
  if (!res.ok) throw new Error(`login ${who.username}: ${res.status}`);
  const cookie = res.headers.get('set-cookie').split(';')[0];
  const { csrf } = await res.json();
  return { cookie, csrf };
}

// createAgent adds an agent account with the admin API (POST
// /v1/admin/agents, docs/admin.md). It returns null when the relay does not
// have that endpoint, so the caller can fall back to a second admin session.
export async function createAgent(relay, { username, name, capacity = 5, skills = '' }) {
  const s = await adminSession(relay);
  const password = `pw-${username}-e2e-123`;
  const res = await fetch(`${relay.url}/v1/admin/agents`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Cookie: s.cookie, 'X-CSRF-Token': s.csrf },
    body: JSON.stringify({ username, name, role: 'agent', password, capacity, skills }),
  });
  if (res.status === 404 || res.status === 405) return null;
  if (!res.ok) throw new Error(`POST /v1/admin/agents: ${res.status} ${await res.text()}`);
  const body = await res.json();
  return { id: body.id, username, name, password };
}

// onlyOnline waits until the relay has exactly these agents (usernames)
// connected: a browser context closed by the previous test may not be
// offline at the relay yet, and would get routed chats. Without the admin
// API (one shared account) there is nothing to wait for.
export async function onlyOnline(relay, usernames) {
  const s = await adminSession(relay);
  const want = [...usernames].sort().join(',');
  let last = '';
  await poll(async () => {
    const res = await fetch(`${relay.url}/v1/admin/agents`, { headers: { Cookie: s.cookie } });
    if (res.status === 404 || res.status === 405) return true;
    const { agents } = await res.json();
    last = agents.filter((a) => a.status !== 'offline' && a.status !== 'disabled').map((a) => a.username).sort().join(',');
    return last === want;
  }, { what: `only ${want || 'nobody'} online (now: ${last})` });
}

// agentFrames records the frames of a page's agent sockets.
export function agentFrames(page) {
  const rec = { received: [], sent: [], sockets: [] };
  page.on('websocket', (ws) => {
    if (!ws.url().includes('/v1/agent/ws')) return;
    const s = { url: ws.url(), closed: false };
    rec.sockets.push(s);
    ws.on('framereceived', (f) => { try { rec.received.push(JSON.parse(f.payload)); } catch { /* binary */ } });
    ws.on('framesent', (f) => { try { rec.sent.push(JSON.parse(f.payload)); } catch { /* binary */ } });
    ws.on('close', () => { s.closed = true; });
  });
  return rec;
}

// metric reads one Prometheus sample from the relay ("name{labels}").
export async function metric(relay, sample) {
  const text = await (await fetch(`${relay.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith(sample + ' '));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

export async function waitTitle(page, re, what) {
  return poll(async () => re.test(await page.title()), { what: what || `title ${re}` });
}
