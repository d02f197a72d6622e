// A receiver's side of a Kefu webhook, exactly as docs/notifications.md
// shows it (a test keeps the two the same, and runs it against real
// deliveries). Node 18+; rawBody is the request body as received (a
// Buffer or string), before any JSON parsing.
import { createHmac, timingSafeEqual } from 'node:crypto';

export function verify(secret, header, rawBody, now = Date.now()) {
  let ts = '';
  const sigs = [];
  for (const part of header.split(',')) {
    const [k, v] = part.trim().split('=');
    if (k === 't') ts = v;
    else if (k === 'v1') sigs.push(v);
  }
  const sec = Number(ts);
  if (!ts || !Number.isInteger(sec)) throw new Error('no timestamp in the signature header');
  if (Math.abs(now / 1000 - sec) > 300) throw new Error('timestamp outside the 5-minute replay window');
  const want = createHmac('sha256', secret).update(`${ts}.`).update(rawBody).digest();
  const ok = sigs.some((sig) => {
    const got = Buffer.from(sig, 'hex');
    return got.length === want.length && timingSafeEqual(got, want);
  });
  if (!ok) throw new Error('signature does not match');
}
