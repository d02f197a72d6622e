// Where a Go WebAssembly module's bytes go, by package: code (function
// bodies, named by the module's "name" section) and data segments.
// go tool nm does not read wasm; build without -s -w to keep the names:
//
//   GOOS=js GOARCH=wasm go build -trimpath -o /tmp/app.wasm ./relay/cmd/kefu-edge
//   node edge/bench/size.js /tmp/app.wasm ./relay/cmd/kefu-edge [top]
//
// The main package names the packages (go list -deps): the name section
// writes "net/http.(*Client).Do" as "net_http.(*Client).Do".
'use strict';

const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

function leb(buf, pos) {
  let v = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    v += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [v, pos];
  }
}

// packager returns pkg, which turns a symbol into its package path: the
// longest package whose mangled path prefixes it ("net_http.(*Client).Do"
// → "net/http"). Compiler-made symbols (type_.eq…, go:…) fall under "(go)".
function packager(main) {
  const list = execFileSync('go', ['list', '-deps', main], { env: { ...process.env, GOOS: 'js', GOARCH: 'wasm' }, encoding: 'utf8' }).trim().split('\n');
  const byMangled = new Map(list.map((p) => [p.replace(/[/-]/g, '_'), p])); // go-openai: go_openai
  return (name) => {
    let best = '(go)';
    for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) {
      best = byMangled.get(name.slice(0, i)) || best; // the longest wins
    }
    return best;
  };
}

function main() {
  const [file, main, topArg] = process.argv.slice(2);
  const top = Number(topArg || 30);
  if (!file || !main) throw new Error('usage: node size.js app.wasm ./path/to/main [top]');
  const pkg = packager(main);
  const buf = fs.readFileSync(file);
  if (buf.readUInt32BE(0) !== 0x0061736d) throw new Error(`${file}: not a WebAssembly module`);
  let pos = 8;
  let imported = 0;
  const bodies = []; // size of each defined function's body
  const names = new Map(); // function index → name
  let data = 0;
  const sections = {};
  while (pos < buf.length) {
    const id = buf[pos++];
    let size;
    [size, pos] = leb(buf, pos);
    const end = pos + size;
    sections[id] = (sections[id] || 0) + size;
    if (id === 2) { // imports: functions among them shift the indexes
      let n, p = pos;
      [n, p] = leb(buf, p);
      for (let i = 0; i < n; i++) {
        let l;
        [l, p] = leb(buf, p); p += l;
        [l, p] = leb(buf, p); p += l;
        const kind = buf[p++];
        if (kind === 0) { imported++; [, p] = leb(buf, p); } else break; // Go imports only functions
      }
    } else if (id === 10) { // code
      let n, p = pos;
      [n, p] = leb(buf, p);
      for (let i = 0; i < n; i++) {
        let l;
        [l, p] = leb(buf, p);
        bodies.push(l);
        p += l;
      }
    } else if (id === 11) {
      data += size;
    } else if (id === 0) { // custom: "name"
      let l, p = pos;
      [l, p] = leb(buf, p);
      const cname = buf.toString('utf8', p, p + l);
      p += l;
      if (cname === 'name') {
        while (p < end) {
          const sub = buf[p++];
          let ssize;
          [ssize, p] = leb(buf, p);
          const send = p + ssize;
          if (sub === 1) {
            let n, q = p;
            [n, q] = leb(buf, q);
            for (let i = 0; i < n; i++) {
              let idx, nl;
              [idx, q] = leb(buf, q);
              [nl, q] = leb(buf, q);
              names.set(idx, buf.toString('utf8', q, q + nl));
              q += nl;
            }
          }
          p = send;
        }
      }
    }
    pos = end;
  }
  if (!names.size) throw new Error(`${file}: no name section (built with -s -w?)`);
  const byPkg = new Map();
  let code = 0;
  bodies.forEach((size, i) => {
    const name = names.get(imported + i) || '?';
    const p = pkg(name);
    byPkg.set(p, (byPkg.get(p) || 0) + size);
    code += size;
  });
  const group = (p) => {
    if (p.startsWith('github.com/prometheus/') || p.startsWith('google.golang.org/protobuf')) return 'prometheus + protobuf';
    if (p.startsWith('crypto/tls') || p.startsWith('crypto/x509') || p.startsWith('vendor/golang.org/x/crypto') || p.startsWith('crypto/internal/fips140/mlkem') || p.startsWith('crypto/ecdsa') || p.startsWith('crypto/rsa') || p.startsWith('encoding/asn1') || p.startsWith('vendor/golang.org/x/net/http2') || p.startsWith('net/http.http2')) return 'TLS, x509, HTTP/2 client';
    if (p.startsWith('gonum.org/') || p.startsWith('github.com/james-bowman/')) return 'gonum + nlp';
    if (p.startsWith('github.com/kefuhq/')) return 'kefu';
    return null;
  };
  const groups = new Map();
  for (const [p, s] of byPkg) {
    const g = group(p);
    if (g) groups.set(g, (groups.get(g) || 0) + s);
  }
  const mb = (b) => (b / 1e6).toFixed(2) + ' MB';
  console.log(`${file}: ${mb(buf.length)}; code ${mb(code)}, data ${mb(data)}`);
  for (const [g, s] of [...groups].sort((a, b) => b[1] - a[1])) console.log(`  ${g.padEnd(28)} ${mb(s)}  ${(100 * s / code).toFixed(1)} % of code`);
  console.log(`top ${top} packages by code:`);
  for (const [p, s] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${mb(s).padStart(9)}  ${p}`);
}

main();
