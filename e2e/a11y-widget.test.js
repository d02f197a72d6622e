// Accessibility of the widget, audited by axe-core against WCAG 2.1 A/AA:
// closed, open, after answers, in several languages including Arabic,
// light and dark, in the default and in hard brand colours (the admin page
// and the console: a11y-pages.test.js). Colour contrast axe cannot
// decide inside the widget's shadow root is computed (lib/axe.js): 0
// violations and nothing left below WCAG AA.
import { before } from 'node:test';
import { suite, it, startRelay, startSite, launch, screenshot, poll, W } from './lib/harness.js';
import { assertAccessible } from './lib/axe.js';

const SCHEMES = ['light', 'dark'];

// widgetStates opens the widget on url and audits it closed, open, and
// after an FAQ answer, a hand-off and a refused (too long) message.
async function widgetStates(t, context, url, scheme, where) {
  const page = await context.newPage();
  await page.emulateMedia({ colorScheme: scheme });
  await page.goto(url);
  await W.waitMark(page, 'panel');
  const notes = [];
  notes.push(...await assertAccessible(page, `${where}, closed`));
  await W.open(page);
  notes.push(...await assertAccessible(page, `${where}, open`));
  await W.send(page, 'How long does shipping take?');
  await poll(async () => (await W.stored(page)).some((m) => m.cls.includes('bo')), { what: `${where}: the FAQ answer` });
  await W.send(page, 'I want to talk to a person');
  await poll(async () => (await W.stored(page)).some((m) => m.cls.includes('sy')), { what: `${where}: the hand-off` });
  await W.send(page, 'x'.repeat(5000)); // refused in the browser: "Not sent"
  await poll(() => page.locator('kefu-widget .g.fail').count(), { what: `${where}: the refused message` });
  notes.push(...await assertAccessible(page, `${where}, after answers`));
  if (notes.length) t.diagnostic(`${where}: axe left undecided: ${[...new Set(notes)].join(', ')}`);
  return page;
}

suite('widget accessibility (axe, WCAG 2.1 AA)', () => {
  let relay, site;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
  });

  it('widget: closed, open, after answers, in English, German, Chinese and Arabic, light and dark', async (t) => {
    for (const scheme of SCHEMES) {
      const context = await launch({ colorScheme: scheme });
      for (const lang of ['en', 'de', 'zh', 'ar']) {
        const page = await widgetStates(t, context, site.add(`a11y-${lang}-${scheme}`, { lang }), scheme, `widget ${lang} ${scheme}`);
        if (lang === 'ar' || lang === 'en') await screenshot(page, `a11y-widget-${lang}-${scheme}`);
        await page.close();
      }
      await context.close();
    }
  });

  it('widget in brand colours that fail with white text (amber, yellow) and a dark one, light and dark', async (t) => {
    for (const scheme of SCHEMES) {
      const context = await launch({ colorScheme: scheme });
      for (const color of ['#f59e0b', '#facc15', '#1e293b']) {
        const page = await widgetStates(t, context, site.add(`a11y-${color.slice(1)}-${scheme}`, { attrs: { color } }), scheme, `widget ${color} ${scheme}`);
        await screenshot(page, `a11y-widget-${color.slice(1)}-${scheme}`);
        await page.close();
      }
      await context.close();
    }
  });
});
