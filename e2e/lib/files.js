// Files for the attachment tests, made here so each shows what it holds:
// PNGs (with a script hidden inside), an SVG, an HTML page, a zip bomb.
import zlib from 'node:zlib';

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

// png is a w×h RGB image; noise makes it big (it does not compress) and
// every pixel differs. extraChunks go after the header.
export function png(w, h, { noise = false, extraChunks = [] } = {}) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  let seed = 12345;
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const i = y * (w * 3 + 1) + 1 + x * 3;
      if (noise) {
        seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; // xorshift32
        raw[i] = seed >>> 24; raw[i + 1] = (seed >>> 16) & 255; raw[i + 2] = (seed >>> 8) & 255;
      } else {
        raw[i] = (x * 255) / Math.max(1, w - 1); raw[i + 1] = (y * 255) / Math.max(1, h - 1); raw[i + 2] = 160;
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...extraChunks.map(([t, d]) => chunk(t, Buffer.from(d))),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// scriptPNG is a real image with a script in a text chunk and an HTML page
// after its end: a polyglot that a careless server would serve as HTML.
export function scriptPNG() {
  return Buffer.concat([
    png(64, 48, { extraChunks: [['tEXt', 'Comment\0<script>window.__pwned = "png-chunk"; alert(1)</script>']] }),
    Buffer.from('<html><body><script>window.__pwned = "after-iend"; alert(2)</script></body></html>'),
  ]);
}

export const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="window.__pwned=\'svg\';alert(3)"><script>alert(4)</script><rect width="10" height="10"/></svg>';
export const HTML = '<!DOCTYPE html><html><body><h1>Not a picture</h1><script>window.__pwned = "html"; alert(5)</script></body></html>';

// zipBomb is a zip whose one entry (64 MB of zeros) packs into a few
// kilobytes: stored method 8 (deflate), written by hand.
export function zipBomb() {
  const data = Buffer.alloc(64 << 20);
  const packed = zlib.deflateRawSync(data, { level: 9 });
  const name = Buffer.from('zeros.bin');
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(8, 8);
  local.writeUInt32LE(crc, 14); local.writeUInt32LE(packed.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc, 16); central.writeUInt32LE(packed.length, 20); central.writeUInt32LE(data.length, 24); central.writeUInt16LE(name.length, 28);
  const end = Buffer.alloc(22);
  const cdOffset = local.length + name.length + packed.length;
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(1, 8); end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + name.length, 12); end.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, name, packed, central, name, end]);
}

// sizeOf reads a PNG's or JPEG's pixel size.
export function sizeOf(buf) {
  if (buf.subarray(1, 4).toString('latin1') === 'PNG') return { w: buf.readUInt32BE(16), h: buf.readUInt32BE(20) };
  for (let i = 2; i + 9 < buf.length;) {
    if (buf[i] !== 0xff) break;
    const marker = buf[i + 1];
    const len = buf.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3) return { h: buf.readUInt16BE(i + 5), w: buf.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  return null;
}
