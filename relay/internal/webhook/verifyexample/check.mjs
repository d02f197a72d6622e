// Used by the Go tests: reads {secret, header, body} requests as JSON
// lines on stdin and prints "ok" or the error of verify() for each.
import { createInterface } from 'node:readline';
import { verify } from './verify.mjs';

for await (const line of createInterface({ input: process.stdin })) {
  const { secret, header, body } = JSON.parse(line);
  try {
    verify(secret, header, Buffer.from(body, 'base64'));
    console.log('ok');
  } catch (err) {
    console.log(err.message);
  }
}
