// The Notifications tab: who is told what, and how — webhooks here; the
// sections are modules of their own.
import * as webhooks from './webhooks.js';

const sections = [webhooks];

export function init() {
  for (const s of sections) s.init();
}

export async function show() {
  await Promise.all(sections.map((s) => s.show()));
}
