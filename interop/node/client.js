'use strict';
// A WebSocket client built on Node's ws or websocket-driver that runs one
// check against a wsd server:
//
//   node client.js ws|driver CASE URL
//
// prints "ok", or "fail: REASON" and exits 1. The misbehaving cases
// (terminate, midframe, midfragment, afterclose) only misbehave: whether
// the server survived them is for the caller to check.

const net = require('net');
const WebSocket = require('ws');
const websocket = require('websocket-driver');
const {
  UNICODE, pattern, compressible, frame, sameData, describe,
} = require('./common');

const MAX = 64 << 20;

class Check extends Error {}

// A connection of either library, as promises.
class Conn {
  constructor() {
    this.queue = [];
    this.waiters = [];
    this.closeEvent = null;
    this.closed = new Promise((resolve) => { this.onClosed = resolve; });
  }

  push(data) {
    const w = this.waiters.shift();
    if (w) w.resolve(data); else this.queue.push(data);
  }

  end(code, reason) {
    if (this.closeEvent) return;
    this.closeEvent = { code, reason };
    for (const w of this.waiters.splice(0)) {
      w.reject(new Check(`connection closed with ${code} ${JSON.stringify(reason)} while waiting for a message`));
    }
    this.onClosed(this.closeEvent);
  }

  next() {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closeEvent) {
      return Promise.reject(new Check(`connection closed with ${this.closeEvent.code} while waiting for a message`));
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
}

function openWs(url, protocols) {
  const c = new Conn();
  const ws = new WebSocket(url, protocols, { maxPayload: MAX, perMessageDeflate: true });
  c.lib = ws;
  ws.on('message', (data, isBinary) => c.push(isBinary ? data : data.toString()));
  ws.on('close', (code, reason) => c.end(code, reason.toString()));
  ws.on('error', (err) => { c.error = err; });
  c.send = (d) => ws.send(d, { binary: typeof d !== 'string' });
  c.ping = (p) => new Promise((resolve) => {
    ws.on('pong', (data) => { if (data.toString() === p) resolve(); });
    ws.ping(p);
  });
  c.close = (code, reason) => ws.close(code, reason);
  c.terminate = () => ws.terminate();
  c.raw = (buf, cb) => ws._socket.write(buf, cb);
  c.protocol = () => ws.protocol;
  c.extensions = () => ws.extensions;
  c.opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Check(`closed with ${code} before opening`)));
  });
  return c;
}

function openDriver(url, protocols) {
  const c = new Conn();
  const u = new URL(url);
  const tcp = net.connect(Number(u.port), u.hostname);
  const d = websocket.client(url, { protocols, maxLength: MAX });
  c.lib = d;
  tcp.on('error', (err) => { c.error = err; });
  tcp.pipe(d.io).pipe(tcp);
  tcp.on('connect', () => d.start());
  d.on('message', (e) => c.push(e.data));
  d.on('close', (e) => { c.end(e.code, e.reason); tcp.end(); });
  d.on('error', (err) => { c.error = err; });
  tcp.on('close', () => c.end(1006, ''));
  c.send = (data) => (typeof data === 'string' ? d.text(data) : d.binary(data));
  c.ping = (p) => new Promise((resolve) => d.ping(p, resolve));
  c.close = (code, reason) => d.close(reason, code);
  c.terminate = () => tcp.destroy();
  c.raw = (buf, cb) => tcp.write(buf, cb);
  c.protocol = () => d.protocol;
  c.extensions = () => '';
  c.opened = new Promise((resolve, reject) => {
    d.once('open', resolve);
    tcp.once('error', reject);
    c.closed.then((e) => reject(new Check(`closed with ${e.code} before opening`)));
  });
  return c;
}

async function roundtrip(c, ...msgs) {
  for (const m of msgs) c.send(m);
  for (let i = 0; i < msgs.length; i++) {
    const got = await c.next();
    if (!sameData(got, msgs[i])) {
      throw new Check(`message ${i + 1}: got ${describe(got)}, want ${describe(msgs[i])}`);
    }
  }
}

async function expectClose(c, code, reason) {
  const e = await c.closed;
  if (e.code !== code || (reason !== undefined && e.reason !== reason)) {
    throw new Check(`closed with ${e.code} ${JSON.stringify(e.reason)}, want ${code} ${JSON.stringify(reason)}`);
  }
}

// Drops the connection once buf is written.
function dropAfter(c, buf) {
  return new Promise((resolve) => c.raw(buf, () => { c.terminate(); resolve(); }));
}

const CASES = {
  text: (c) => roundtrip(c, 'hello, wsd'),
  binary: (c) => roundtrip(c, pattern(256)),
  empty: (c) => roundtrip(c, '', Buffer.alloc(0)),
  unicode: (c) => roundtrip(c, UNICODE),
  '1mib': (c) => roundtrip(c, pattern(1 << 20)),
  '16mib': (c) => roundtrip(c, pattern(16 << 20)),
  async ordered(c) {
    for (let i = 0; i < 1000; i++) c.send(`message ${i}`);
    for (let i = 0; i < 1000; i++) {
      const got = await c.next();
      if (got !== `message ${i}`) throw new Check(`message ${i + 1} of 1000: got ${describe(got)}`);
    }
  },
  ping: (c) => c.ping('node-ping'),
  async serverping(c) {
    const got = await c.next();
    if (got !== 'pong:wsd-ping') throw new Check(`got ${describe(got)}, want "pong:wsd-ping"`);
  },
  async subprotocol(c) {
    if (c.protocol() !== 'chat') throw new Check(`protocol ${JSON.stringify(c.protocol())}, want "chat"`);
    await roundtrip(c, 'chat');
  },
  async deflate(c) {
    if (!/permessage-deflate/.test(c.extensions())) {
      throw new Check(`permessage-deflate not negotiated (extensions "${c.extensions()}")`);
    }
    await roundtrip(c, compressible(1 << 20), pattern(1 << 20), 'hello, deflate');
  },
  async closeclient(c, lib) {
    c.close(4001, `bye from ${lib}`);
    await expectClose(c, 4001, `bye from ${lib}`);
  },
  closeserver: (c) => expectClose(c, 4000, 'bye from wsd'),
  // "hello fragmented world" in three fragments, with a ping between them.
  async fragmented(c) {
    if (c.lib instanceof WebSocket) {
      c.lib.send('hello ', { fin: false });
      c.lib.ping('between');
      c.lib.send('fragmented ', { fin: false });
      c.lib.send('world', { fin: true });
    } else {
      c.raw(Buffer.concat([
        frame(1, 'hello ', { fin: false, mask: true }),
        frame(9, 'between', { mask: true }),
        frame(0, 'fragmented ', { fin: false, mask: true }),
        frame(0, 'world', { mask: true }),
      ]));
    }
    const got = await c.next();
    if (got !== 'hello fragmented world') throw new Check(`got ${describe(got)}, want "hello fragmented world"`);
  },
  // Protocol errors, which the server must answer with the right code.
  async badutf8(c) {
    c.raw(frame(1, Buffer.from([0x68, 0x69, 0xff, 0xfe]), { mask: true }));
    await expectClose(c, 1007);
  },
  async unmasked(c) {
    c.raw(frame(1, 'not masked'));
    await expectClose(c, 1002);
  },
  async toobig(c) {
    c.send(pattern(2048));
    await expectClose(c, 1009);
  },
  async terminate(c) {
    c.send('hello');
    c.terminate();
  },
  // A masked binary frame that announces 1 MiB and carries 1000 bytes.
  midframe: (c) => dropAfter(c, frame(2, pattern(1000), { mask: true, length: 1 << 20 })),
  async midfragment(c) {
    if (c.lib instanceof WebSocket) {
      c.lib.send('the first part of a ', { fin: false });
      await new Promise((resolve) => setTimeout(resolve, 50));
      c.terminate();
      return;
    }
    await dropAfter(c, frame(1, 'the first part of a ', { fin: false, mask: true }));
  },
  // Close, then send a text frame anyway; then wait for the server's
  // close, which must still come.
  async afterclose(c) {
    c.close(4003, 'closing, then more');
    c.raw(frame(1, 'sent after the close frame', { mask: true }));
    await expectClose(c, 4003, 'closing, then more');
  },
};
const CLOSES = new Set([
  'closeclient', 'closeserver', 'badutf8', 'unmasked', 'toobig', 'terminate', 'midframe', 'midfragment', 'afterclose',
]);

async function main() {
  const [lib, name, url] = process.argv.slice(2);
  if (!['ws', 'driver'].includes(lib) || !CASES[name] || !url) {
    console.error(`usage: node client.js ws|driver CASE URL\ncases: ${Object.keys(CASES).join(', ')}`);
    process.exit(2);
  }
  const protocols = name === 'subprotocol' ? ['nope', 'chat'] : [];
  const c = lib === 'ws' ? openWs(url, protocols) : openDriver(url, protocols);
  await c.opened;
  await CASES[name](c, lib);
  if (!CLOSES.has(name)) {
    c.close(1000, 'done');
    await expectClose(c, 1000);
  }
}

const timer = setTimeout(() => {
  console.log('fail: timed out');
  process.exit(1);
}, 30000);
main().then(() => {
  clearTimeout(timer);
  console.log('ok');
  process.exit(0);
}, (err) => {
  console.log(`fail: ${err instanceof Check ? err.message : String(err && err.stack || err)}`);
  process.exit(1);
});
