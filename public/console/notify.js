// Alerts: the unread count in the tab title, an opt-in beep (Web Audio,
// no sound file) and opt-in browser notifications while the tab is
// hidden. Notification text is passed as plain strings; browsers never
// render it as HTML.

const TITLE = 'Kefu console';
const PREFS = 'kefu-console:prefs';

export function setTitleCount(n) {
  const t = n > 0 ? `(${n > 99 ? '99+' : n}) ${TITLE}` : TITLE;
  if (document.title !== t) document.title = t;
}

export function loadPrefs() {
  try { return { sound: false, notify: false, ...JSON.parse(localStorage.getItem(PREFS) || '{}') }; } catch { return { sound: false, notify: false }; }
}
export function savePrefs(p) {
  try { localStorage.setItem(PREFS, JSON.stringify({ sound: !!p.sound, notify: !!p.notify })); } catch { /* disabled */ }
}

let actx = null;

// unlockAudio must run in a user gesture (the sound switch, or any click
// after a reload) for the browser to allow sound.
export function unlockAudio() {
  try {
    actx ??= new AudioContext();
    if (actx.state === 'suspended') actx.resume();
  } catch { actx = null; }
}

export function beep() {
  if (!actx || actx.state !== 'running') return false;
  const t = actx.currentTime;
  const o = actx.createOscillator();
  const g = actx.createGain();
  o.type = 'sine';
  o.frequency.setValueAtTime(880, t);
  o.frequency.setValueAtTime(660, t + 0.12);
  g.gain.setValueAtTime(0.0001, t);
  g.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
  g.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
  o.connect(g).connect(actx.destination);
  o.start(t);
  o.stop(t + 0.32);
  return true;
}

export const notifySupported = () => typeof Notification === 'function';

export async function askNotify() {
  if (!notifySupported()) return false;
  if (Notification.permission === 'granted') return true;
  if (Notification.permission === 'denied') return false;
  try { return (await Notification.requestPermission()) === 'granted'; } catch { return false; }
}

// show posts a notification; onClick runs when it is clicked. tag groups
// notifications of one conversation so they replace each other.
export function show(title, body, tag, onClick) {
  if (!notifySupported() || Notification.permission !== 'granted') return null;
  try {
    const n = new Notification(String(title), { body: String(body), tag, renotify: !!tag, silent: true });
    n.onclick = () => { window.focus(); onClick?.(); n.close(); };
    return n;
  } catch { return null; } // e.g. Android Chrome wants a service worker
}
