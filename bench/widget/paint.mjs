// Loads a host page in headless Chromium, with and without the widget's
// script tag, and reports what the Performance API saw: first paint, first
// contentful paint, long tasks (total blocking time after FCP), load, and
// the requests that went to the relay. Each run gets a fresh browser
// profile. Prints one JSON object per run, one per line.
//
//   node paint.mjs '{"urls":{"without":"…","with":"…"},"runs":5,"settleMs":5000,"relay":"http://127.0.0.1:PORT"}'
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const opts = JSON.parse(process.argv[2] || '{}');
const args = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

// Runs before any page script: observe long tasks from the very start.
const observe = () => {
  window.__longtasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch { /* no long-task support: reported as none */ }
};

async function once(variant, url) {
  const dir = mkdtempSync(join(tmpdir(), 'kefu-paint-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: opts.chromium || '/usr/bin/chromium',
    headless: false, // --headless=new is in args, exactly as the benchmark states
    args,
    viewport: { width: 1280, height: 800 },
  });
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    await page.addInitScript(observe);
    await page.goto(url, { waitUntil: 'load', timeout: 30000 });
    // The loader fetches the panel and the wasm when the page goes idle:
    // keep watching long enough for that to happen and be counted.
    await page.waitForTimeout(opts.settleMs || 5000);
    return await page.evaluate(({ variant, relay }) => {
      const paint = Object.fromEntries(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime]));
      const nav = performance.getEntriesByType('navigation')[0];
      const fcp = paint['first-contentful-paint'] ?? 0;
      const tasks = window.__longtasks || [];
      const tbt = tasks.filter((t) => t.start >= fcp).reduce((s, t) => s + Math.max(0, t.duration - 50), 0);
      const res = performance.getEntriesByType('resource').filter((r) => relay && r.name.startsWith(relay));
      const marks = performance.getEntriesByType('mark').filter((m) => m.name.startsWith('kefu:'))
        .map((m) => ({ name: m.name, at: m.startTime }));
      return {
        variant,
        fp: paint['first-paint'] ?? null,
        fcp: paint['first-contentful-paint'] ?? null,
        tbt,
        long_tasks: tasks.length,
        long_task_ms: tasks.reduce((s, t) => s + t.duration, 0),
        load: nav ? nav.loadEventEnd : null,
        widget_requests: res.length,
        widget_resources: res.map((r) => r.name.replace(relay, '')),
        marks,
      };
    }, { variant, relay: opts.relay || '' });
  } finally {
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const variants = Object.entries(opts.urls || {});
for (let i = 0; i < (opts.runs || 3); i++) {
  // Alternate the order so neither variant always runs on a warmer machine.
  const order = i % 2 === 0 ? variants : [...variants].reverse();
  for (const [variant, url] of order) {
    console.log(JSON.stringify({ run: i, ...(await once(variant, url)) }));
  }
}
