// Helpers for the admin page's browser tests: signing in through the
// form, calling the admin API from the page (with its CSRF token), and a
// guard that records everything an injected payload could do.
import assert from 'node:assert/strict';

// The harness starts every relay with this first-admin password.
export const ADMIN_PASSWORD = 'e2e-admin-password';

// signIn signs out if needed, fills the admin page's sign-in form, and
// returns the message the page shows when it refuses ('' when the app
// opened).
export async function signIn(page, relay, username = 'admin', password = ADMIN_PASSWORD) {
  if (!page.url().startsWith(`${relay.url}/admin/`)) await page.goto(`${relay.url}/admin/`);
  // The browser's tabs share the session cookie: start from signed out.
  await page.locator('#signin:not([hidden]), #app:not([hidden])').waitFor();
  if (await page.locator('#app').isVisible()) {
    await page.click('#signout');
    await page.locator('#signin:not([hidden])').waitFor();
  }
  await page.fill('#username', username);
  await page.fill('#password', password);
  // Hide the last message, so a repeated one is seen as new.
  await page.evaluate(() => { document.querySelector('#signin-msg').hidden = true; });
  await page.click('#signin-btn');
  await page.waitForFunction(() => !document.querySelector('#app').hidden || !document.querySelector('#signin-msg').hidden);
  if (!(await page.locator('#app').isHidden())) return '';
  return (await page.locator('#signin-msg').textContent()).trim();
}

// widgetTab opens the Widget tab (by the tab, or by another control that
// shows it: opener) and waits until its settings have loaded.
// Every visit fetches them and fills the form anew, so a field typed
// before the answer came was overwritten (seen on a loaded box). The embed
// snippet, filled in the same task as every field, is emptied first and
// waited for.
export async function widgetTab(page, opener = '#tab-widget') {
  await loaded(page, '#w-embed', () => page.click(opener));
}

// privacyTab opens the Privacy tab and waits until it has loaded: its
// retention fields are filled when the answer comes, over anything typed
// before. The sweep line is filled in the same task.
export async function privacyTab(page) {
  await loaded(page, '#pv-sweep', () => page.click('#tab-privacy'));
}

// loaded empties sel, does open, and waits until the page fills sel again.
async function loaded(page, sel, open) {
  await page.evaluate((s) => { document.querySelector(s).textContent = ''; }, sel);
  await open();
  await page.waitForFunction((s) => document.querySelector(s).textContent !== '', sel, { timeout: 30_000 });
}

// api calls the admin API from a signed-in admin page, as the page does.
export function api(page, method, path, body) {
  return page.evaluate(async ({ method, path, body }) => {
    const me = await (await fetch('/v1/auth/me')).json();
    const res = await fetch(path, {
      method,
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try { data = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, data };
  }, { method, path, body });
}

// guard records, for a browser context, what a payload that ran or was
// parsed as HTML would leave behind: dialogs, requests to the beacon,
// page errors, CSP violations (collected by an init script).
export function guard(context, beaconPart) {
  const g = { dialogs: [], hits: [], errors: [] };
  context.on('request', (r) => { if (r.url().includes(beaconPart) || /javascript:|evil\.example/.test(r.url())) g.hits.push(r.url()); });
  context.on('page', (p) => watchPage(p, g));
  for (const p of context.pages()) watchPage(p, g);
  return g;
}

function watchPage(p, g) {
  p.on('dialog', (d) => { g.dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
  p.on('pageerror', (e) => g.errors.push(e.message));
}

// Installed before any page script runs (CDP, not subject to the CSP):
// every CSP violation is a payload trying to run or load something.
export const CSP_SPY = `
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
`;

// assertClean checks a page and its frames: no payload ran, nothing was
// made from one, nothing was loaded.
export async function assertClean(page, g, where) {
  for (const f of page.frames()) {
    const state = await f.evaluate(() => ({
      xss: window.__xss, csp: window.__csp || [],
      // Elements only a parsed payload could have made.
      made: [...document.querySelectorAll('body img, body svg, body object, body embed, body math, body template, body video, body audio, body style, body base, body link, body meta, body form[action^="javascript" i], a[href^="javascript" i], a[ping]')]
        .map((e) => e.tagName),
      handlers: [...document.querySelectorAll('*')].flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `${e.tagName}[${a.name}]`)),
      frames: document.querySelectorAll('iframe').length,
      url: location.href,
    }));
    assert.equal(state.xss, undefined, `${where}: a payload ran in ${state.url}`);
    assert.deepEqual(state.csp, [], `${where}: CSP violations in ${state.url}`);
    if (f === page.mainFrame()) {
      assert.deepEqual(state.made, [], `${where}: elements made from payloads`);
      assert.deepEqual(state.handlers, [], `${where}: event-handler attributes`);
      assert.ok(state.frames <= 1, `${where}: ${state.frames} iframes (only the widget preview is ours)`);
    }
  }
  assert.deepEqual(g.dialogs, [], `${where}: dialogs opened`);
  assert.deepEqual(g.hits, [], `${where}: requests to payload URLs`);
}

// payloads are the hostile strings, each aimed at one way text can turn
// into markup, script, a request or a misleading display. b is a beacon
// URL on the relay's own origin, which the page's CSP would let load: a
// hit there means a payload became an element.
export const payloads = (b) => [
  `<script>window.__xss='script'</script>`,
  `<img src="${b}?img" onerror="window.__xss='img'">`,
  `<img src=x onerror=window.__xss='img2'>`,
  `<svg onload="window.__xss='svg'"><image href="${b}?svg"/></svg>`,
  `<svg><script>window.__xss='svg-script'</script></svg>`,
  `<a href="javascript:window.__xss='link'">click me</a>`,
  `javascript:window.__xss='bare-url'`,
  `<iframe src="${b}?iframe" onload="window.__xss='iframe'"></iframe>`,
  `<iframe srcdoc="<script>parent.__xss='srcdoc'</script>"></iframe>`,
  `"><img src="${b}?attr" onerror="window.__xss='attr'">`,
  `' onmouseover='window.__xss="quote"' x='`,
  `<div onmouseover="window.__xss='hover'" style="position:fixed;inset:0">hover</div>`,
  `<body onload="window.__xss='body'">`,
  `<details open ontoggle="window.__xss='details'"><summary>x</summary></details>`,
  `<input autofocus onfocus="window.__xss='focus'">`,
  `<video><source onerror="window.__xss='video'"></video>`,
  `<audio src="${b}?audio" onerror="window.__xss='audio'">`,
  `<object data="${b}?object"></object>`,
  `<embed src="${b}?embed">`,
  `<link rel="stylesheet" href="${b}?link">`,
  `<style>@import url("${b}?css");*{display:none}</style>`,
  `<div style="background:url(${b}?cssurl);width:expression(window.__xss='expr')">css</div>`,
  `<math><mtext><table><mglyph><style><img src=x onerror="window.__xss='math'">`,
  `<template><img src=x onerror="window.__xss='tpl'"></template>`,
  `<noscript><p title="</noscript><img src=x onerror=window.__xss='noscript'>">`,
  `<meta http-equiv="refresh" content="0;url=javascript:window.__xss='meta'">`,
  `<form action="javascript:window.__xss='form'"><button>go</button></form>`,
  `<base href="${b}/">`,
  `![tracker](${b}?markdown)`,
  `[click](javascript:window.__xss='md')`,
  `[ref]: ${b}?ref "t" ![x][ref]`,
  `{{constructor.constructor('window.__xss="angular"')()}}`,
  `\${window.__xss='template-literal'}`,
  `<scr<script>ipt>window.__xss='nested'</scr</script>ipt>`,
  `&lt;script&gt;window.__xss='entity'&lt;/script&gt;`,
  `\u202Egnp.exe\u202C order \u200B\u200Bzero\u200Dwidth\uFEFF text`,
  `<a href="${b}?click" ping="${b}?ping">plain link</a>`,
  `${'A'.repeat(3000)}<img src=x onerror=window.__xss='long'>`,
  `data:text/html,<script>window.__xss='data'</script>`,
];

// adminFetch signs in from node (no browser) and calls the admin API as
// the page would: session cookie, CSRF token, the relay's own Origin.
export async function adminFetch(relay, method, path, body) {
  const login = await fetch(`${relay.url}/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Origin: relay.url },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  assert.equal(login.status, 200, 'admin login');
  const cookie = login.headers.get('set-cookie').split(';')[0];
  const { csrf } = await login.json();
  const res = await fetch(`${relay.url}${path}`, {
    method,
    headers: { Cookie: cookie, 'X-CSRF-Token': csrf, Origin: relay.url, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, data };
}

// setWidget changes some widget settings, keeping the others.
export async function setWidget(relay, patch) {
  const cur = await adminFetch(relay, 'GET', '/v1/admin/widget');
  const res = await adminFetch(relay, 'PUT', '/v1/admin/widget', { ...cur.data.settings, ...patch });
  assert.equal(res.status, 200, `PUT widget: ${JSON.stringify(res.data)}`);
  return res.data.settings;
}
