'use strict';
// What the interop peers agree on: the test data and the special paths'
// codes and texts. interop/wsdpeer and interop/python use the same values.

// Text with 2-, 3- and 4-byte UTF-8 sequences.
const UNICODE = 'héllo wörld ✓ Ωμέγα 日本語 🎉🚀';

// n bytes that are not all alike (xorshift32), so that a misplaced chunk
// shows.
function pattern(n) {
  const b = Buffer.allocUnsafe(n);
  let x = 2463534242;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

// Compressible text: what permessage-deflate is for.
function compressible(n) {
  const line = 'the quick brown fox jumps over the lazy dog 0123456789\n';
  return line.repeat(Math.ceil(n / line.length)).slice(0, n);
}

// A masked or unmasked frame, written by hand for the cases that misbehave.
function frame(opcode, payload, { fin = true, mask = false, length } = {}) {
  payload = Buffer.from(payload);
  const len = length === undefined ? payload.length : length;
  let head;
  if (len < 126) {
    head = Buffer.from([0, len]);
  } else if (len < 65536) {
    head = Buffer.from([0, 126, len >> 8, len & 0xff]);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (!mask) return Buffer.concat([head, payload]);
  head[1] |= 0x80;
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

// Server paths' behaviors that clients expect.
const SERVER_CLOSE = { code: 4000, reason: 'bye from peer' };
const AFTER_CLOSE = { code: 4002, reason: 'closing, then more' };
const SERVER_PING = 'peer-ping';

// The messages the /drive path sends to a `wsd client -echo`.
function driveMessages(deflate) {
  const msgs = [
    { binary: false, data: 'hello, wsd' },
    { binary: true, data: pattern(256) },
    { binary: false, data: '' },
    { binary: false, data: UNICODE },
    { binary: true, data: pattern(1 << 20) },
  ];
  if (deflate) msgs.push({ binary: false, data: compressible(1 << 20) });
  return msgs;
}

function sameData(got, want) {
  if (typeof want === 'string') return typeof got === 'string' && got === want;
  return Buffer.isBuffer(got) && got.equals(want);
}

function describe(data) {
  if (typeof data === 'string') {
    return `text of ${Buffer.byteLength(data)} bytes ${JSON.stringify(data.slice(0, 24))}`;
  }
  return `binary of ${data.length} bytes`;
}

module.exports = {
  UNICODE, pattern, compressible, frame, SERVER_CLOSE, AFTER_CLOSE, SERVER_PING,
  driveMessages, sameData, describe,
};
