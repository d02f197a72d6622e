// Honest availability in a real browser against the real relay: outside
// business hours the widget says the team is away and until when, before
// the visitor writes; asking for a person says when the team is back and
// asks for an email, which the relay keeps on the visitor; the agent's
// later reply reaches that address by mail (a real SMTP conversation with
// a server the test runs), and the mail's link reopens the chat.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, screenshot, poll, watch, W } from './lib/harness.js';
import { adminFetch } from './lib/admin.js';
import { C, createAgent, visitorConversation } from './lib/console.js';
import { startSMTP, textOf } from './lib/smtp.js';

const day = (d) => d.toISOString().slice(0, 10);

suite('away hours', () => {
  let relay, site, back, smtp;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
    smtp = await startSMTP();
    const mail = await adminFetch(relay, 'PUT', '/v1/admin/mail', {
      enabled: true, host: '127.0.0.1', port: smtp.port, security: 'none', username: smtp.user, password: smtp.password,
      from: 'support@shop.test', from_name: 'Tea Shop', agent_to: [], base_url: relay.url, batch_seconds: 5, visitor_delay_seconds: 0,
    });
    assert.equal(mail.status, 200, `PUT mail: ${JSON.stringify(mail.data)}`);
    // Open every day all day, but today and tomorrow are holidays: away
    // until the day after tomorrow, 00:00 UTC, whatever the time now.
    const now = new Date();
    const hours = [0, 1, 2, 3, 4, 5, 6].map((d) => ({ day: d, from: '00:00', to: '24:00' }));
    const res = await adminFetch(relay, 'PUT', '/v1/admin/availability', {
      time_zone: 'UTC', hours, holidays: [day(now), day(new Date(now.getTime() + 86_400_000))], reply_minutes: 30, away: false, texts: {},
    });
    assert.equal(res.status, 200, `PUT availability: ${JSON.stringify(res.data)}`);
    back = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 2));
  });

  it('a visitor outside business hours sees the away state, leaves an email, and the agent\'s later reply reaches it', async (t) => {
    const context = await launch({ locale: 'en-US', timezoneId: 'UTC' });
    const page = await context.newPage();
    const errors = watch(page);
    await page.goto(site.add('away', {}));
    await W.open(page);
    const line = page.locator('kefu-widget .av');
    await poll(async () => /^Away until /.test(await line.textContent()), { what: 'the header says away until' });
    const shown = await line.textContent();
    assert.ok(shown.includes(back.toLocaleString('en-US', { timeZone: 'UTC', hour: 'numeric', minute: '2-digit' })) || shown.includes(String(back.getUTCDate())),
      `"${shown}" names the time the team is back (${back.toISOString()})`);
    assert.equal(await page.locator('kefu-widget .ms .g').count(), 0, 'shown before the visitor writes anything');

    await W.send(page, 'I want to talk to a real person');
    const form = page.locator('kefu-widget form.ct');
    await form.waitFor({ state: 'visible', timeout: 20_000 });
    const notice = (await W.stored(page)).find((m) => m.cls.includes('sy'));
    assert.match(notice.text, /away until \d{4}-\d\d-\d\d 00:00 \(UTC\)/, 'the hand-off says when the team is back');
    assert.doesNotMatch(notice.text, /shortly/, 'and promises no quick reply');
    await screenshot(page, 'away-contact-form');

    // A bad address is refused in the form; a good one is kept.
    await form.locator('input[type=email]').fill('not-an-address');
    await form.locator('button').click();
    await poll(async () => /valid email/.test(await form.textContent()), { what: 'the form says the address is not valid' });
    await form.locator('input[type=email]').fill('ann@example.com');
    await form.locator('input[autocomplete=name]').fill('Ann <b>bold</b>');
    await form.locator('button').click();
    await poll(async () => /ann@example\.com/.test(await form.textContent()), { what: 'the form thanks the visitor' });
    assert.equal(await page.locator('kefu-widget b').count(), 0, 'nothing the visitor typed became HTML');
    assert.deepEqual(errors, [], 'console errors');
    const conv = await visitorConversation(page);
    const pageURL = page.url();
    await page.close(); // the visitor leaves

    // Later an agent signs in, gets the waiting conversation and replies.
    const mei = await createAgent(relay, { username: 'mei', name: 'Mei', capacity: 5 });
    const con = await C.open(context, relay);
    await C.signIn(con, mei);
    await C.select(con, conv);
    const reply = 'Hi Ann, your order <42> ships today & arrives Monday.';
    await C.reply(con, reply);
    const mail = await poll(() => smtp.messages.find((m) => m.to.includes('ann@example.com')), { timeout: 60_000, what: 'the reply by mail' });
    const text = textOf(mail.data);
    t.diagnostic(`mail to ${mail.to} from ${mail.from}`);
    assert.ok(text.includes(reply), `the mail carries the reply as written: ${text}`);
    assert.match(mail.data, /^Subject: .*$/m);
    assert.match(mail.data, /^List-Unsubscribe: <http:\/\/127\.0\.0\.1:\d+\/v1\/mail\/unsubscribe\?/m);
    const link = `${pageURL}#kefu-open`;
    assert.ok(text.includes(link), `the mail links back to the chat's page (${link})`);
    await con.close();

    // The link reopens the chat where it was, with the reply in it.
    const back2 = await context.newPage();
    await back2.goto(link);
    await W.panel(back2).waitFor({ state: 'visible', timeout: 20_000 });
    await poll(async () => (await W.texts(back2)).includes(reply), { timeout: 20_000, what: 'the reply in the reopened chat' });
    await screenshot(back2, 'away-reopened-from-mail');
  });

  it('an open widget follows the away switch live, without a reload', async () => {
    const context = await launch({ locale: 'en-US', timezoneId: 'UTC' });
    const page = await context.newPage();
    const errors = watch(page);
    await page.goto(site.add('away-live', {}));
    await W.open(page);
    const line = page.locator('kefu-widget .av');
    await poll(async () => /^Away until /.test(await line.textContent()), { what: 'away until (the holidays)' });
    // A visitor who wrote has a socket, which carries the changes.
    await W.send(page, 'hello there');
    await poll(async () => (await W.stored(page)).some((m) => m.cls.includes('vi')), { what: 'the message stored: the socket is up' });
    const hours = [0, 1, 2, 3, 4, 5, 6].map((d) => ({ day: d, from: '00:00', to: '24:00' }));
    const put = (away) => adminFetch(relay, 'PUT', '/v1/admin/availability', { time_zone: 'UTC', hours, holidays: [], reply_minutes: 30, away, texts: {} });
    assert.equal((await put(false)).status, 200);
    await poll(async () => /^Usually replies within 30 minutes/.test(await line.textContent()), { what: 'the header follows: within hours now' });
    assert.equal((await put(true)).status, 200);
    await poll(async () => /away/i.test(await line.textContent()), { what: 'the header follows the away switch' });
    assert.deepEqual(errors, [], 'console errors');
    await context.close();
  });
});
