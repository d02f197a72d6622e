// A small SMTP server for browser tests: enough of RFC 5321 for the
// relay's net/smtp client (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) on a
// loopback port; it keeps every accepted message.
import net from 'node:net';

export async function startSMTP({ user = 'kefu', password = 'smtp-pass' } = {}) {
  const messages = [];
  const srv = net.createServer((sock) => {
    sock.setEncoding('utf8');
    let buf = '';
    let data = null; // collecting DATA
    let cur = { from: '', to: [] };
    const say = (l) => sock.write(l + '\r\n');
    say('220 e2e-smtp ready');
    sock.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (data !== null) {
          if (line === '.') {
            messages.push({ ...cur, data: data.join('\r\n') });
            data = null;
            cur = { from: '', to: [] };
            say('250 OK queued');
          } else data.push(line.startsWith('.') ? line.slice(1) : line);
          continue;
        }
        const [verb, ...rest] = line.split(' ');
        const arg = rest.join(' ');
        const addr = () => (/<([^>]*)>/.exec(arg) || [])[1] || '';
        switch (verb.toUpperCase()) {
          case 'EHLO': case 'HELO': sock.write('250-e2e-smtp\r\n250 AUTH PLAIN\r\n'); break;
          case 'AUTH': {
            const [, b64] = arg.split(' ');
            const [, u, p] = Buffer.from(b64 || '', 'base64').toString().split('\0');
            say(u === user && p === password ? '235 2.7.0 ok' : '535 5.7.8 bad credentials');
            break;
          }
          case 'MAIL': cur.from = addr(); say('250 OK'); break;
          case 'RCPT': cur.to.push(addr()); say('250 OK'); break;
          case 'DATA': data = []; say('354 go ahead'); break;
          case 'RSET': cur = { from: '', to: [] }; say('250 OK'); break;
          case 'QUIT': say('221 bye'); sock.end(); break;
          default: say('250 OK');
        }
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  srv.unref(); // the test process may end with it open
  const close = () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(r); });
  return { port: srv.address().port, user, password, messages, close };
}

// textOf decodes a message's text/plain part (quoted-printable).
export function textOf(raw) {
  const m = /Content-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n([\s\S]*?)\r\n--/.exec(raw);
  if (!m) return '';
  const bytes = m[1].replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}
