// Notifications in a real browser against the real relay: webhooks added
// in the admin page reach a receiver signed (checked with the docs'
// verifier), the deliveries show in the page, and a delivery can be sent
// again from there.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { suite, it, startRelay, launch, screenshot, poll, watch, freePort } from './lib/harness.js';
import { signIn } from './lib/admin.js';
import { verify } from '../relay/internal/webhook/verifyexample/verify.mjs';

// receiver is a webhook receiver on loopback; it keeps every request.
async function receiver() {
  const port = await freePort();
  const got = [];
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ header: req.headers['kefu-signature'] || '', body: Buffer.concat(chunks) });
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise((r) => srv.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/hook`, got, close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }) };
}

suite('notifications', () => {
  let relay, context, recv;
  before(async () => {
    relay = await startRelay();
    context = await launch();
    recv = await receiver();
  });
  // A listening receiver keeps the test's process alive: node --test waited for it for ever.
  after(() => recv?.close());

  it('"Add a webhook" lists every event type even when clicked before the tab has loaded', async () => {
    const page = await context.newPage();
    const errors = watch(page);
    assert.equal(await signIn(page, relay), '');
    // The tab's list (and with it the event types) comes late, as on a slow
    // network; the admin does not wait for it.
    let held = 0;
    await page.route('**/v1/admin/webhooks', async (r) => {
      if (r.request().method() === 'GET' && held++ === 0) await new Promise((ok) => setTimeout(ok, 1500));
      await r.continue();
    });
    await page.click('#tab-notify');
    await page.click('#wh-new');
    await page.locator('input[name=events][value="conversation.created"]').waitFor({ timeout: 10000 });
    assert.ok(await page.locator('input[name=events]').count() >= 2, 'every event type has a checkbox');
    await page.unroute('**/v1/admin/webhooks');
    assert.deepEqual(errors.filter((e) => !/401/.test(e)), []); // the page's first /v1/auth/me, signed out
    await page.close();
  });

  it('a webhook added in the admin page gets signed events; its deliveries show and can be sent again', async () => {
    const page = await context.newPage();
    const errors = watch(page);
    assert.equal(await signIn(page, relay), '');
    await page.click('#tab-notify');
    await page.click('#wh-new');
    await page.fill('#f-url', recv.url);
    await page.fill('#f-description', 'our CRM');
    await page.check('input[name=events][value="conversation.created"]');
    await page.check('input[name=events][value="message.created"]');
    await page.click('#dlg-ok');
    // The secret is shown once, in its own dialog.
    const secret = await page.locator('#wh-secret').inputValue();
    assert.match(secret, /^whsec_/);
    await screenshot(page, 'admin-webhook-secret');
    await page.click('#dlg-ok');
    await page.locator('#wh-rows tr', { hasText: 'our CRM' }).waitFor();

    // A visitor writes (over the relay's own HTTP API, as the widget's fallback does).
    const conv = await (await fetch(`${relay.url}/v1/conversations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).json();
    const res = await fetch(`${relay.url}/v1/conversations/${conv.conversation_id}/messages`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json', Authorization: `Bearer ${conv.token}` },
      body: JSON.stringify({ id: 'm1', text: 'Do you ship to Norway?' }),
    });
    assert.equal(res.status, 200);
    await poll(() => recv.got.length >= 2, { what: 'two deliveries', timeout: 20_000 });
    for (const d of recv.got) verify(secret, d.header, d.body); // throws on a bad signature
    const bodies = recv.got.map((d) => JSON.parse(d.body));
    assert.deepEqual(bodies.slice(0, 2).map((b) => b.type), ['conversation.created', 'message.created']);
    assert.equal(bodies[1].data.message.text, 'Do you ship to Norway?');
    assert.throws(() => verify('whsec_wrong', recv.got[0].header, recv.got[0].body), /signature does not match/);

    await page.click('#tab-dashboard');
    await page.click('#tab-notify');
    await page.locator('#wh-rows .pill.online').waitFor();
    await page.getByRole('button', { name: `Deliveries to ${recv.url}` }).click();
    await page.locator('.deliveries tbody tr').nth(1).waitFor();
    await screenshot(page, 'admin-webhook-deliveries');
    const before = recv.got.length;
    await page.locator('.deliveries tbody tr').last().getByRole('button', { name: /Redeliver/ }).click();
    await poll(() => recv.got.length === before + 1, { what: 'the redelivery' });
    const again = JSON.parse(recv.got.at(-1).body);
    assert.equal(again.type, 'conversation.created');
    verify(secret, recv.got.at(-1).header, recv.got.at(-1).body);
    await page.click('#dlg-ok');
    assert.deepEqual(errors.filter((e) => !/401/.test(e)), []); // the page's first /v1/auth/me, signed out
  });
});
