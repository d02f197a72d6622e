// Web Push: with it on, this browser is told of a conversation waiting
// for a person even with the console closed (the relay sends through the
// browser's push service; sw.js shows it and opens the conversation).
import * as api from '../shared/api.js';

export function supported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

function keyBytes(b64) {
  const s = b64.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(s + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function registration() {
  return navigator.serviceWorker.register('/console/sw.js', { scope: '/console/' });
}

// current is this browser's subscription, if push is on here.
export async function current() {
  if (!supported()) return null;
  const reg = await navigator.serviceWorker.getRegistration('/console/');
  return reg ? reg.pushManager.getSubscription() : null;
}

// enable asks for permission, subscribes with the relay's VAPID key and
// tells the relay; it throws with a message for the agent.
export async function enable() {
  if (!supported()) throw new Error('This browser has no Web Push.');
  if (await Notification.requestPermission() !== 'granted') throw new Error('The browser blocked notifications for this site.');
  const { public_key: key } = await api.get('/v1/agent/push');
  const reg = await registration();
  await navigator.serviceWorker.ready;
  const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  await api.post('/v1/agent/push/subscriptions', sub.toJSON());
}

// disable tells the relay to forget this browser, then unsubscribes.
export async function disable() {
  const sub = await current();
  if (!sub) return;
  await api.post('/v1/agent/push/unsubscribe', { endpoint: sub.endpoint }).catch(() => {});
  await sub.unsubscribe();
}
