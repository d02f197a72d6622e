// Accessibility of the admin page and the agent console, audited by
// axe-core against WCAG 2.1 A/AA, light and dark: 0 violations, and the
// colour contrast axe cannot decide computed (lib/axe.js). The widget:
// a11y-widget.test.js.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, screenshot, poll, W } from './lib/harness.js';
import { assertAccessible, weakFieldBorders } from './lib/axe.js';
import { signIn, widgetTab } from './lib/admin.js';
import { C, ADMIN, visitorConversation } from './lib/console.js';

const SCHEMES = ['light', 'dark'];

// settled waits until what a selector shows stops changing (a tab's data
// has arrived and been drawn): the same HTML in two looks 300 ms apart.
async function settled(page, sel) {
  let last = '';
  await poll(async () => {
    const now = await page.locator(sel).evaluate((e) => e.innerHTML);
    const same = now === last;
    last = now;
    return same;
  }, { every: 300, what: `${sel} to settle` });
}

suite('admin and console accessibility (axe, WCAG 2.1 AA)', () => {
  let relay, site;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
  });

  it('admin page: every tab, light and dark', async (t) => {
    for (const scheme of SCHEMES) {
      const context = await launch({ colorScheme: scheme });
      const page = await context.newPage();
      await page.goto(`${relay.url}/admin/`);
      await page.locator('#signin:not([hidden])').waitFor();
      await assertAccessible(page, `admin sign-in ${scheme}`);
      assert.equal(await signIn(page, relay), '');
      for (const tab of await page.locator('[role=tab]').evaluateAll((ts) => ts.map((x) => x.dataset.tab))) {
        await page.click(`#tab-${tab}`);
        await page.locator(`#view-${tab}:not([hidden])`).waitFor();
        await settled(page, `#view-${tab}`);
        const notes = await assertAccessible(page, `admin ${tab} ${scheme}`);
        assert.deepEqual(await weakFieldBorders(page), [], `admin ${tab} ${scheme}: form field borders under 3:1`);
        if (notes.length) t.diagnostic(`admin ${tab} ${scheme}: axe left undecided: ${notes.join(', ')}`);
      }
      // The colour picker shows the ratio, and warns when white text would fail.
      await widgetTab(page);
      for (const [color, says, warns] of [['#f59e0b', /black, 9\.77:1/, /White text would be only 2\.14:1/], ['#2563eb', /white, 5\.16:1/, null]]) {
        await page.fill('#widget-form input[name=color]', color);
        await poll(async () => says.test(await page.locator('#w-contrast').textContent()), { what: `${color}: the ratio shown` });
        const warning = await page.locator('#w-contrast .warn').allTextContents();
        if (warns) assert.match(warning.join(' '), warns);
        else assert.deepEqual(warning, []);
        if (color === '#f59e0b') {
          assert.equal(await page.locator('.mock-head').evaluate((e) => getComputedStyle(e).color), 'rgb(0, 0, 0)', 'the sketch shows black text too');
          await assertAccessible(page, `admin colour warning ${scheme}`);
        }
      }
      await screenshot(page, `a11y-admin-${scheme}`);
      await context.close();
    }
  });

  it('console: signed in, a conversation open, light and dark', async (t) => {
    for (const scheme of SCHEMES) {
      const visitor = await launch();
      const shop = await visitor.newPage();
      await shop.goto(site.add(`a11y-console-${scheme}`, {}));
      await W.open(shop);
      await W.send(shop, 'I want to talk to a person');
      const conv = await poll(() => visitorConversation(shop), { what: 'the conversation' });

      const context = await launch({ colorScheme: scheme });
      const con = await C.open(context, relay);
      await con.locator('#signin-form').waitFor({ state: 'visible' });
      await assertAccessible(con, `console sign-in ${scheme}`);
      await C.signIn(con, ADMIN);
      await C.entry(con, conv).waitFor();
      await assertAccessible(con, `console inbox ${scheme}`);
      await C.select(con, conv);
      await poll(async () => (await C.history(con)).length >= 2, { what: 'the history' });
      const notes = await assertAccessible(con, `console conversation ${scheme}`);
      assert.deepEqual(await weakFieldBorders(con), [], `console ${scheme}: form field borders under 3:1`);
      if (notes.length) t.diagnostic(`console ${scheme}: axe left undecided: ${notes.join(', ')}`);
      await screenshot(con, `a11y-console-${scheme}`);
      await context.close();
      await visitor.close();
    }
  });
});
