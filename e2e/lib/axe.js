// axe-core (pinned in package.json) run in a page against the WCAG 2.1 A
// and AA rules, and the colour-contrast checks axe leaves "needing review"
// decided here: axe gives up where it cannot be sure of a background
// (text over a pseudo-element, a box shadow, a shadow root's fixed
// layers), so each such element's contrast is computed from the colours
// the browser actually uses — its own text colour and the backgrounds
// behind it, walked up through the shadow root to the first opaque one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// audit runs axe on the page (its shadow roots included) and returns
// {violations, contrast, incomplete}: contrast are the colour-contrast
// items axe could not decide, each with the ratio computed here.
export async function audit(page) {
  // Through the DevTools protocol, so the page's CSP does not stop it.
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const r = await page.evaluate(async (tags) => {
    const res = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations', 'incomplete'] });
    const brief = (x) => ({ id: x.id, help: x.help, nodes: x.nodes.map((n) => ({ target: n.target, html: n.html.slice(0, 160), summary: n.failureSummary })) });
    return { violations: res.violations.map(brief), incomplete: res.incomplete.map(brief) };
  }, TAGS);
  const cc = r.incomplete.find((x) => x.id === 'color-contrast');
  const contrast = cc ? await page.evaluate(decide, cc.nodes.map((n) => n.target)) : [];
  return { violations: r.violations, contrast, incomplete: r.incomplete.filter((x) => x.id !== 'color-contrast') };
}

// assertAccessible fails with a readable list when axe finds a violation
// or an undecided text has less contrast than WCAG AA asks (4.5:1, or 3:1
// for large text). It returns what axe left undecided, for the log.
export async function assertAccessible(page, where) {
  const a = await audit(page);
  const lines = a.violations.flatMap((v) => v.nodes.map((n) => `${v.id} (${v.help}) at ${JSON.stringify(n.target)}: ${n.summary}\n      ${n.html}`));
  assert.deepEqual(lines, [], `${where}: axe violations`);
  const low = a.contrast.filter((c) => !c.ok).map((c) => `${JSON.stringify(c.target)} "${c.text}": ${c.fg} on ${c.bg} = ${c.ratio}:1, needs ${c.need}:1`);
  assert.deepEqual(low, [], `${where}: text below WCAG AA contrast (decided here, axe could not)`);
  const notes = a.incomplete.map((x) => `${x.id}: ${x.nodes.length}`);
  if (a.contrast.length) notes.push(`color-contrast: ${a.contrast.length} decided here, all at least AA`);
  return notes;
}

// decide runs in the page: for each axe target (a selector path through
// shadow roots), the text's colour against what is behind it.
function decide(targets) {
  const find = (path) => {
    let root = document, el = null;
    for (const sel of Array.isArray(path) ? path : [path]) {
      el = root.querySelector(sel);
      if (!el) return null;
      root = el.shadowRoot || el;
    }
    return el;
  };
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a), b: top.b * top.a + under.b * (1 - top.a), a: 1,
  });
  const lum = ({ r, g, b }) => [r, g, b].reduce((s, v, i) => {
    const x = v / 255;
    return s + [0.2126, 0.7152, 0.0722][i] * (x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
  }, 0);
  const up = (e) => e.parentElement || (e.getRootNode() instanceof ShadowRoot ? e.getRootNode().host : null);
  const hex = ({ r, g, b }) => `rgb(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)})`;
  return targets.map((target) => {
    const el = find(target);
    if (!el) return { target, ok: false, text: '', fg: '?', bg: '?', ratio: 0, need: 4.5 };
    const s = getComputedStyle(el);
    // Opacity of the element and its ancestors fades the text.
    let fade = 1;
    for (let e = el; e; e = up(e)) fade *= Number(getComputedStyle(e).opacity);
    const fg = parse(s.color);
    fg.a *= fade;
    // Backgrounds from the element outwards, composed until opaque; the
    // page's canvas (white, or the dark scheme's) under everything.
    const layers = [];
    for (let e = el; e; e = up(e)) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg && bg.a > 0) layers.push(bg);
      if (bg && bg.a >= 1) break;
    }
    let bg = matchMedia('(prefers-color-scheme: dark)').matches && getComputedStyle(document.documentElement).colorScheme.includes('dark')
      ? { r: 18, g: 18, b: 18, a: 1 } : { r: 255, g: 255, b: 255, a: 1 };
    for (const l of layers.reverse()) bg = over(l, bg);
    const text = over(fg, bg);
    const L1 = lum(text), L2 = lum(bg);
    const ratio = (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05);
    const px = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
    const need = px >= 24 || (bold && px >= 18.66) ? 3 : 4.5;
    return { target, text: el.textContent.trim().slice(0, 40), fg: hex(text), bg: hex(bg), ratio: Math.round(ratio * 100) / 100, need, ok: ratio >= need };
  });
}

// weakFieldBorders lists the visible form fields whose border has less
// than 3:1 against the colour outside or inside it (WCAG 1.4.11: a text
// box must be seen to be one).
export function weakFieldBorders(page) {
  return page.evaluate(() => {
    const rgb = (c) => (c.match(/[\d.]+/g) || []).slice(0, 4).map(Number);
    const lum = (p) => p.slice(0, 3).reduce((s, v, i) => { v /= 255; return s + [0.2126, 0.7152, 0.0722][i] * (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4); }, 0);
    const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
    const opaque = (e) => {
      for (; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c[3] === undefined || c[3] === 1)) return c;
      }
      return matchMedia('(prefers-color-scheme: dark)').matches ? [18, 18, 18] : [255, 255, 255];
    };
    const out = [];
    for (const f of document.querySelectorAll('input:not([type=checkbox],[type=radio],[type=color],[type=hidden]), select, textarea')) {
      if (!f.getClientRects().length || getComputedStyle(f).visibility === 'hidden') continue;
      const s = getComputedStyle(f);
      if (parseFloat(s.borderTopWidth) === 0) continue;
      const border = rgb(s.borderTopColor), outside = opaque(f.parentElement), inside = opaque(f);
      const r = Math.min(ratio(border, outside), ratio(border, inside));
      if (r < 3) out.push(`${f.id || f.name || f.tagName}: ${s.borderTopColor} is ${r.toFixed(2)}:1`);
    }
    return out;
  });
}
