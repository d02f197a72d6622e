// Kefu.identify(): what the page knows about the visitor reaches the
// relay (and so the agents), on this socket and after every reconnect.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, poll, W } from './lib/harness.js';

suite('identify', () => {
  let relay, site, context;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
    context = await launch();
  });

  // adminGet signs in as the e2e admin and reads an admin API path.
  async function adminGet(path) {
    const login = await fetch(`${relay.url}/v1/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'e2e-admin-password' }),
    });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie').split(';')[0];
    const res = await fetch(`${relay.url}${path}`, { headers: { Cookie: cookie } });
    assert.equal(res.status, 200, path);
    return res.json();
  }

  it('traits given to Kefu.identify are stored with the visitor, cleaned to what the relay accepts', async () => {
    const page = await context.newPage();
    const frames = [];
    page.on('websocket', (ws) => ws.on('framesent', (f) => frames.push(f.payload)));
    await page.goto(site.add('shop', {}));
    await page.evaluate(() => window.Kefu.identify({ name: 'Ann Lee', Email: 'ann@example.com', plan: 'pro', nested: { x: 1 } }));
    await W.open(page);
    await W.send(page, 'hello there');
    const sent = await poll(() => frames.map((f) => JSON.parse(f)).find((f) => f.type === 'identify'), { what: 'identify frame' });
    assert.deepEqual(sent.traits, { name: 'Ann Lee', email: 'ann@example.com', plan: 'pro' });
    const conv = await page.evaluate(() => JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith(':session')))).conv);
    const got = await poll(async () => {
      const c = await adminGet(`/v1/admin/conversations/${conv}`);
      return c.visitor && c.visitor.traits && c.visitor.traits.plan && c;
    }, { what: 'traits on the relay' });
    assert.equal(got.visitor.traits.name, 'Ann Lee');
    assert.equal(got.visitor.traits.email, 'ann@example.com');
    assert.equal(got.visitor.traits.nested, undefined);
  });
});
