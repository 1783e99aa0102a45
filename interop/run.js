'use strict';
// The interop suite: wsd against Node's ws and websocket-driver, python
// websockets and Chromium, in both directions, then the chat demo's
// end-to-end test, WebSockets over HTTP/2 from Chromium and the browser
// client's test. Run by run.sh, which builds the Go programs first:
//
//   node run.js --bin DIR [--out MATRIX.md] [--screenshot PNG] [--only REGEX]
//
// DIR holds the wsd, wsdpeer, h2peer, chat and wasmserver binaries, and
// wasm/ the browser client's test (client.wasm, wasm_exec.js). Prints one line per
// check and "N passed, M failed[, K skipped]"; exits 1 if any check failed.

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const HERE = __dirname;
const PYTHON = '/usr/bin/python3';
const CHECK_TIMEOUT = 60000; // a peer program that runs longer is killed
const SUITE_TIMEOUT = 15 * 60000;

function parseArgs(argv) {
  const opts = { bin: '', out: '', screenshot: '', only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--bin') opts.bin = path.resolve(v());
    else if (a === '--out') opts.out = path.resolve(v());
    else if (a === '--screenshot') opts.screenshot = path.resolve(v());
    else if (a === '--only') opts.only = new RegExp(v(), 'i');
    else usage(`unknown argument ${a}`);
  }
  if (!opts.bin) usage('--bin is required');
  return opts;
}

function usage(msg) {
  console.error(`run.js: ${msg}\nusage: node run.js --bin DIR [--out MATRIX.md] [--screenshot PNG] [--only REGEX]`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
const BIN = (name) => path.join(opts.bin, name);

// Columns of the matrix: who is the client and who the server.
const COL = {
  wsNodeToWsd: 'wsd-server <- node-ws',
  driverToWsd: 'wsd-server <- websocket-driver',
  pythonToWsd: 'wsd-server <- python-websockets',
  chromiumToWsd: 'wsd-server <- chromium',
  wsdToNode: 'wsd-client -> node-ws',
  wsdToDriver: 'wsd-client -> websocket-driver',
  wsdToPython: 'wsd-client -> python-websockets',
};
const COLUMNS = Object.values(COL);

// Rows, in groups.
const GROUPS = [
  {
    title: 'Messages and control frames',
    rows: [
      ['text', 'text'],
      ['binary', 'binary'],
      ['empty', 'empty text and binary'],
      ['unicode', 'unicode text'],
      ['1mib', '1 MiB binary'],
      ['16mib', '16 MiB binary'],
      ['ordered', '1000 messages in order'],
      ['fragmented', 'fragmented message'],
      ['ping', 'client ping, server pong'],
      ['serverping', 'server ping, client pong'],
      ['subprotocol', 'subprotocol selection'],
      ['closeclient', 'close code and reason from the client'],
      ['closeserver', 'close code and reason from the server'],
      ['cli', 'wsd client -echo (command line)'],
    ],
  },
  {
    title: 'Bad input and failures',
    rows: [
      ['badutf8', 'invalid UTF-8 text: 1007'],
      ['protocol', 'unmasked client frame, masked server frame: 1002'],
      ['toobig', 'message over the size limit: 1009'],
      ['terminate', 'abrupt disconnect'],
      ['midframe', 'disconnect in the middle of a frame'],
      ['midfragment', 'disconnect in the middle of a fragmented message'],
      ['afterclose', 'data after the close frame'],
    ],
  },
  {
    title: 'permessage-deflate',
    rows: [['deflate', 'permessage-deflate negotiated, 1 MiB each way']],
  },
];
const ROW_NAME = Object.fromEntries(GROUPS.flatMap((g) => g.rows));

const results = new Map(); // `${column}\t${row}` -> { status, detail }
const chatResults = []; // [{ status, name, detail }]
const counts = { pass: 0, fail: 0, skip: 0 };

function record(status, column, row, detail) {
  counts[status]++;
  detail = detail ? String(detail).trim().split('\n')[0] : '';
  const label = column ? `${column}: ${ROW_NAME[row] || row}` : row;
  const line = `${status.toUpperCase()} ${label}${detail ? `: ${detail}` : ''}`;
  console.log(line);
  if (column) results.set(`${column}\t${row}`, { status, detail });
}

// Child processes, each ended by its PID when the suite ends.
const children = new Set();

function startProcess(cmd, args, { stdio = ['ignore', 'pipe', 'pipe'] } = {}) {
  const child = spawn(cmd, args, { stdio, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.on('error', () => children.delete(child));
  return child;
}

function stopProcess(child, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const kill = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, 3000);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    try { process.kill(child.pid, signal); } catch { clearTimeout(kill); resolve(); }
  });
}

async function stopAll() {
  await Promise.all([...children].map((c) => stopProcess(c)));
}

// run runs a program to its end, killing it after CHECK_TIMEOUT; resolves
// to { code, out }.
function run(cmd, args, timeout = CHECK_TIMEOUT) {
  return new Promise((resolve) => {
    const child = startProcess(cmd, args);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => {
      out += `\nkilled after ${timeout / 1000} s`;
      try { process.kill(child.pid, 'SIGKILL'); } catch {}
    }, timeout);
    child.on('error', (err) => { clearTimeout(timer); resolve({ code: -1, out: String(err) }); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

// A server that prints "listening on ws://ADDR" (or http://) when ready.
class Server {
  constructor(name, cmd, args) {
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.ready = null;
  }

  start() {
    if (!this.ready) {
      this.ready = new Promise((resolve, reject) => {
        const child = startProcess(this.cmd, this.args);
        this.child = child;
        let log = '';
        const fail = (why) => reject(new Error(`${this.name} did not start: ${why}${log ? `: ${log.trim().slice(-300)}` : ''}`));
        const timer = setTimeout(() => { fail('no address within 30 s'); stopProcess(child); }, 30000);
        child.stderr.on('data', (d) => { log += d; });
        child.on('error', (err) => { clearTimeout(timer); fail(err.message); });
        child.on('exit', (code) => { clearTimeout(timer); fail(`exited with ${code}`); });
        readline.createInterface({ input: child.stdout }).on('line', (line) => {
          const m = /listening on (?:ws|http):\/\/(\S+)/.exec(line);
          if (m) {
            clearTimeout(timer);
            this.addr = m[1];
            resolve(m[1]);
          }
        });
      });
      this.ready.catch(() => {});
    }
    return this.ready;
  }

  alive() {
    return this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async url(p = '/') {
    const addr = await this.start();
    if (this.onReady) {
      const f = this.onReady;
      this.onReady = null;
      await f();
    }
    return `ws://${addr}${p}`;
  }
}

const servers = {
  wsdEcho: new Server('wsd echo', BIN('wsd'), ['echo', '-addr', '127.0.0.1:0', '-protocols', 'chat,superchat']),
  wsdEchoDeflate: new Server('wsd echo -deflate', BIN('wsd'), ['echo', '-deflate', '-addr', '127.0.0.1:0', '-protocols', 'chat,superchat']),
  wsdPeer: new Server('wsdpeer server', BIN('wsdpeer'), ['server', '-addr', '127.0.0.1:0', '-protocols', 'chat,superchat']),
  nodeWs: new Server('node ws server', process.execPath, [path.join(HERE, 'node/server.js'), 'ws']),
  nodeDriver: new Server('node websocket-driver server', process.execPath, [path.join(HERE, 'node/server.js'), 'driver']),
  python: new Server('python websockets server', PYTHON, [path.join(HERE, 'python/peer.py'), 'server']),
};

// Whether the wsd command has permessage-deflate: its usage mentions
// -deflate for both subcommands.
async function detectDeflate() {
  const usageOf = async (sub) => (await run(BIN('wsd'), [sub, '-h'], 20000)).out;
  const [echo, client] = await Promise.all([usageOf('echo'), usageOf('client')]);
  return /-deflate\b/.test(echo) && /-deflate\b/.test(client);
}

async function stats(id) {
  const res = await fetch(`http://${await servers.wsdPeer.start()}/stats?id=${encodeURIComponent(id)}`,
    { signal: AbortSignal.timeout(5000) });
  return res.json();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let idleGoroutines = null;
servers.wsdPeer.onReady = () => measureIdle();

// serverSurvived checks that the wsd server is still up, has closed the
// connection, and holds no more goroutines than when it was idle.
async function serverSurvived(id, wantClose) {
  const deadline = Date.now() + 10000;
  let s;
  for (;;) {
    if (!servers.wsdPeer.alive()) return 'the wsd server exited';
    s = await stats(id);
    if (s.open === 0 && s.goroutines <= idleGoroutines && s.close) break;
    if (Date.now() > deadline) {
      return `after 10 s the wsd server has ${s.open} connections open and ${s.goroutines} goroutines (${idleGoroutines} when idle)`;
    }
    await sleep(50);
  }
  if (s.close.sendAfterClose !== 'ErrClosed') {
    return `sending on the closed connection returned ${s.close.sendAfterClose}, want ErrClosed`;
  }
  if (wantClose && s.close.code !== wantClose.code) {
    return `the wsd server saw close ${s.close.code} "${s.close.reason}", want ${wantClose.code}`;
  }
  if (wantClose && wantClose.reason !== undefined && s.close.reason !== wantClose.reason) {
    return `the wsd server saw close ${s.close.code} "${s.close.reason}", want "${wantClose.reason}"`;
  }
  return '';
}

// measureIdle waits until the wsd peer server's goroutine count settles,
// and remembers it.
async function measureIdle() {
  let last = -1;
  for (let i = 0; i < 50; i++) {
    const s = await stats('');
    if (s.open === 0 && s.goroutines === last) {
      idleGoroutines = s.goroutines;
      return;
    }
    last = s.goroutines;
    await sleep(100);
  }
  idleGoroutines = last;
}

function firstLine(out) {
  const lines = out.trim().split('\n').filter(Boolean);
  const fail = lines.find((l) => l.startsWith('fail: '));
  return (fail ? fail.slice(6) : lines.slice(-3).join(' | ')) || 'no output';
}

// The checks. Each is { column, row, run } where run resolves to '' for a
// pass or the reason of a failure.
const checks = [];
const add = (column, row, fn) => checks.push({ column, row, run: fn });

// A program that prints "ok" on success.
async function okProgram(cmd, args) {
  const { code, out } = await run(cmd, args);
  return code === 0 && /^ok$/m.test(out) ? '' : `${firstLine(out)} (exit ${code})`;
}

let uniq = 0;
const nextId = (prefix) => `${prefix}-${++uniq}`;

// Peer clients against wsd servers.
const clientPeers = [
  { column: COL.wsNodeToWsd, tag: 'ws', cmd: (c, url) => [process.execPath, [path.join(HERE, 'node/client.js'), 'ws', c, url]], deflate: true, misbehaves: true },
  { column: COL.driverToWsd, tag: 'driver', cmd: (c, url) => [process.execPath, [path.join(HERE, 'node/client.js'), 'driver', c, url]], deflate: false, misbehaves: true },
  { column: COL.pythonToWsd, tag: 'python', cmd: (c, url) => [PYTHON, [path.join(HERE, 'python/peer.py'), 'client', c, url]], deflate: true, misbehaves: false },
];

for (const peer of clientPeers) {
  const client = (c, url) => okProgram(...peer.cmd(c, url));
  for (const c of ['text', 'binary', 'empty', 'unicode', '1mib', '16mib', 'ordered', 'fragmented', 'ping', 'subprotocol']) {
    add(peer.column, c, async () => client(c, await servers.wsdEcho.url()));
  }
  add(peer.column, 'serverping', async () => client('serverping', await servers.wsdPeer.url('/ping')));
  add(peer.column, 'closeclient', async () => {
    const id = nextId(peer.tag);
    const fail = await client('closeclient', await servers.wsdPeer.url(`/?id=${id}`));
    if (fail) return fail;
    const byes = { ws: 'bye from ws', driver: 'bye from driver', python: 'bye from python' };
    return serverSurvived(id, { code: 4001, reason: byes[peer.tag] });
  });
  add(peer.column, 'closeserver', async () => client('closeserver',
    await servers.wsdPeer.url('/close?code=4000&reason=bye%20from%20wsd')));
  if (peer.misbehaves) {
    // row: [client case, server path, close code the wsd server reports]
    const bad = {
      badutf8: ['badutf8', '/', 1007],
      protocol: ['unmasked', '/', 1002],
      toobig: ['toobig', '/limit?max=1024&', 1009],
      terminate: ['terminate', '/', 1006],
      midframe: ['midframe', '/', 1006],
      midfragment: ['midfragment', '/', 1006],
      afterclose: ['afterclose', '/', 4003],
    };
    for (const [row, [c, p, code]] of Object.entries(bad)) {
      add(peer.column, row, async () => {
        const id = nextId(`${peer.tag}-${c}`);
        const fail = await client(c, await servers.wsdPeer.url(`${p}${p.endsWith('&') ? '' : '?'}id=${id}`));
        if (fail) return fail;
        return serverSurvived(id, { code });
      });
    }
  }
  add(peer.column, 'deflate', peer.deflate
    ? async () => client('deflate', await servers.wsdEchoDeflate.url())
    : null);
}

// The browser against wsd servers: one page, one WebSocket per check.
const browserCases = ['text', 'binary', 'empty', 'unicode', '1mib', '16mib', 'ordered', 'serverping', 'subprotocol', 'closeclient', 'closeserver', 'deflate'];
let browser = null;
let browserStarted = null;
// startBrowser launches Chromium once; if that fails, every browser check
// fails with the same reason, at once.
function startBrowser() {
  if (!browserStarted) {
    browserStarted = (async () => {
      const { launch } = require('./browser');
      const b = await launch();
      b.page = b.context.pages()[0] || await b.context.newPage();
      browser = b;
    })();
  }
  return browserStarted;
}
for (const c of browserCases) {
  add(COL.chromiumToWsd, c, async () => {
    let url;
    let id = '';
    if (c === 'serverping') url = await servers.wsdPeer.url('/ping');
    else if (c === 'closeclient') url = await servers.wsdPeer.url(`/?id=${id = nextId('chromium')}`);
    else if (c === 'closeserver') url = await servers.wsdPeer.url('/close?code=4000&reason=bye%20from%20wsd');
    else if (c === 'deflate') url = await servers.wsdEchoDeflate.url();
    else url = await servers.wsdEcho.url();
    await startBrowser();
    // Run the page at the server's own origin, as a site's page would:
    // wsd refuses pages of other origins (and about:blank's "null").
    const origin = new URL(url.replace(/^ws/, 'http')).origin;
    if (await browser.page.evaluate(() => location.origin).catch(() => '') !== origin) {
      await browser.page.goto(origin + '/');
    }
    const res = await Promise.race([
      browser.page.evaluate(browserCase, { url, name: c }),
      sleep(30000).then(() => 'fail: timed out'),
    ]);
    if (res === 'fail: timed out') await browser.page.goto('about:blank').catch(() => {});
    if (res !== 'ok') return res.replace(/^fail: /, '');
    if (id) return serverSurvived(id, { code: 4001, reason: 'bye from chromium' });
    return '';
  });
}

// Runs in the page: one check with the browser's own WebSocket.
async function browserCase({ url, name }) {
  const UNICODE = 'héllo wörld ✓ Ωμέγα 日本語 🎉🚀';
  const pattern = (n) => {
    const b = new Uint8Array(n);
    let x = 2463534242;
    for (let i = 0; i < n; i++) {
      x ^= x << 13; x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5; x >>>= 0;
      b[i] = x & 0xff;
    }
    return b;
  };
  const compressible = (n) => 'the quick brown fox jumps over the lazy dog 0123456789\n'.repeat(Math.ceil(n / 55)).slice(0, n);
  const same = (got, want) => {
    if (typeof want === 'string') return got === want;
    if (!(got instanceof ArrayBuffer) || got.byteLength !== want.length) return false;
    const g = new Uint8Array(got);
    for (let i = 0; i < g.length; i++) if (g[i] !== want[i]) return false;
    return true;
  };
  const describe = (d) => (typeof d === 'string' ? `text of ${d.length} chars ${JSON.stringify(d.slice(0, 24))}`
    : `binary of ${d.byteLength} bytes`);

  const ws = new WebSocket(url, name === 'subprotocol' ? ['nope', 'chat'] : []);
  ws.binaryType = 'arraybuffer';
  const queue = [];
  const waiters = [];
  let closeEvent = null;
  ws.onmessage = (e) => { const w = waiters.shift(); if (w) w.resolve(e.data); else queue.push(e.data); };
  const closed = new Promise((resolve) => {
    ws.onclose = (e) => {
      closeEvent = e;
      for (const w of waiters.splice(0)) w.reject(new Error(`closed with ${e.code} while waiting for a message`));
      resolve(e);
    };
  });
  const next = () => (queue.length ? Promise.resolve(queue.shift())
    : closeEvent ? Promise.reject(new Error(`closed with ${closeEvent.code}`))
      : new Promise((resolve, reject) => waiters.push({ resolve, reject })));
  const roundtrip = async (...msgs) => {
    for (const m of msgs) ws.send(m);
    for (let i = 0; i < msgs.length; i++) {
      const got = await next();
      if (!same(got, msgs[i])) throw new Error(`message ${i + 1}: got ${describe(got)}, want ${describe(msgs[i])}`);
    }
  };
  const expectClose = async (code, reason) => {
    const e = await closed;
    if (e.code !== code || (reason !== undefined && e.reason !== reason)) {
      throw new Error(`closed with ${e.code} ${JSON.stringify(e.reason)}, want ${code} ${JSON.stringify(reason)}`);
    }
  };
  try {
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      closed.then((e) => reject(new Error(`closed with ${e.code} before opening`)));
    });
    switch (name) {
      case 'text': await roundtrip('hello, wsd'); break;
      case 'binary': await roundtrip(pattern(256)); break;
      case 'empty': await roundtrip('', new Uint8Array(0)); break;
      case 'unicode': await roundtrip(UNICODE); break;
      case '1mib': await roundtrip(pattern(1 << 20)); break;
      case '16mib': await roundtrip(pattern(16 << 20)); break;
      case 'ordered': {
        for (let i = 0; i < 1000; i++) ws.send(`message ${i}`);
        for (let i = 0; i < 1000; i++) {
          const got = await next();
          if (got !== `message ${i}`) throw new Error(`message ${i + 1} of 1000: got ${describe(got)}`);
        }
        break;
      }
      case 'serverping': {
        const got = await next();
        if (got !== 'pong:wsd-ping') throw new Error(`got ${describe(got)}, want "pong:wsd-ping"`);
        break;
      }
      case 'subprotocol':
        if (ws.protocol !== 'chat') throw new Error(`protocol ${JSON.stringify(ws.protocol)}, want "chat"`);
        await roundtrip('chat');
        break;
      case 'closeclient':
        ws.close(4001, 'bye from chromium');
        await expectClose(4001, 'bye from chromium');
        return 'ok';
      case 'closeserver':
        await expectClose(4000, 'bye from wsd');
        return 'ok';
      case 'deflate':
        if (!/permessage-deflate/.test(ws.extensions)) {
          throw new Error(`permessage-deflate not negotiated (extensions "${ws.extensions}")`);
        }
        await roundtrip(compressible(1 << 20), pattern(1 << 20), 'hello, deflate');
        break;
      default:
        throw new Error(`unknown case ${name}`);
    }
    ws.close(1000, 'done');
    await expectClose(1000);
    return 'ok';
  } catch (err) {
    ws.close();
    return `fail: ${err.message}`;
  }
}

// The wsd client against peer servers.
const serverPeers = [
  { column: COL.wsdToNode, server: servers.nodeWs, deflate: true, misbehaves: true },
  { column: COL.wsdToDriver, server: servers.nodeDriver, deflate: false, misbehaves: true },
  { column: COL.wsdToPython, server: servers.python, deflate: true, misbehaves: false },
];

for (const peer of serverPeers) {
  const wsdpeer = async (c, p) => okProgram(BIN('wsdpeer'), ['client', c, await peer.server.url(p)]);
  for (const c of ['text', 'binary', 'empty', 'unicode', '1mib', '16mib', 'ordered', 'ping', 'subprotocol', 'closeclient']) {
    add(peer.column, c, () => wsdpeer(c, '/'));
  }
  add(peer.column, 'fragmented', () => wsdpeer('fragmented', '/fragmented'));
  add(peer.column, 'serverping', () => wsdpeer('serverping', '/ping'));
  add(peer.column, 'closeserver', () => wsdpeer('closeserver', '/close?code=4000&reason=bye%20from%20peer'));
  // The command line client, driven by the server: the exit status says
  // whether the server closed with 1000.
  const cli = async (flags, p) => {
    const { code, out } = await run(BIN('wsd'), ['client', ...flags, '-echo', await peer.server.url(p)]);
    return code === 0 ? '' : `${out.trim().split('\n').slice(-1)[0] || 'no output'} (exit ${code})`;
  };
  add(peer.column, 'cli', () => cli([], '/drive'));
  if (peer.misbehaves) {
    add(peer.column, 'badutf8', () => wsdpeer('badutf8', '/badutf8'));
    add(peer.column, 'protocol', () => wsdpeer('masked', '/masked'));
    add(peer.column, 'toobig', () => wsdpeer('toobig', '/big'));
    add(peer.column, 'terminate', () => wsdpeer('abrupt', '/terminate'));
    add(peer.column, 'midframe', () => wsdpeer('abrupt', '/midframe'));
    add(peer.column, 'midfragment', () => wsdpeer('abrupt', '/midfragment'));
    add(peer.column, 'afterclose', () => wsdpeer('afterclose', '/afterclose'));
  }
  add(peer.column, 'deflate', peer.deflate ? () => cli(['-deflate'], '/drive?deflate=1') : null);
}

// The matrix, as markdown.
function matrix() {
  const cell = (column, row) => {
    const r = results.get(`${column}\t${row}`);
    return r ? r.status : '—';
  };
  const short = (c) => c.replace('wsd-server <- ', '→ wsd server<br>').replace('wsd-client -> ', 'wsd client →<br>');
  const lines = [
    '# Interoperability',
    '',
    'What `bash interop/run.sh` checks, and how the last run that wrote this',
    'file went. Columns are the peers, in both directions: "→ wsd server" is',
    'the peer\'s client against a wsd server, "wsd client →" is the wsd client',
    'against the peer\'s server. A dash is a check that does not apply: a',
    'browser page cannot send a ping or a fragment, or misbehave; the bad input',
    'is sent by the Node peers; websocket-driver does not offer',
    'permessage-deflate; the command-line row is the wsd client\'s.',
    '',
    'Peers: Node ws and websocket-driver (npm, versions in interop/package-lock.json),',
    'python websockets and Chromium (Debian packages `python3-websockets` and',
    '`chromium`). `bash interop/setup.sh` installs them; `bash interop/run.sh',
    '-o docs/interop.md -s docs/chat.png` runs the suite and writes this file',
    'and the chat demo\'s screenshot. The last table is wsd\'s own client built',
    'for the browser (GOOS=js GOARCH=wasm) and run in Chromium against a wsd',
    'server (interop/wasm).',
    '',
  ];
  const versions = peerVersions();
  if (versions) lines.push(`This run: ${versions}.`, '');
  for (const g of GROUPS) {
    lines.push(`## ${g.title}`, '');
    lines.push(`| check | ${COLUMNS.map(short).join(' | ')} |`);
    lines.push(`| --- | ${COLUMNS.map(() => ':---:').join(' | ')} |`);
    for (const [row, name] of g.rows) {
      lines.push(`| ${name} | ${COLUMNS.map((c) => cell(c, row)).join(' | ')} |`);
    }
    lines.push('');
  }
  if (chatResults.length) {
    lines.push('## Browser demo (examples/chat)', '', '| check | result |', '| --- | :---: |');
    for (const r of chatResults) lines.push(`| ${r.name} | ${r.status} |`);
    lines.push('');
  }
  if (wasmResults.length) {
    lines.push('## Browser client (wsd built for GOOS=js GOARCH=wasm, in Chromium)', '', '| check | result |', '| --- | :---: |');
    for (const r of wasmResults) lines.push(`| ${r.name} | ${r.status} |`);
    lines.push('');
  }
  const skipped = [...results.values()].filter((r) => r.status === 'skip');
  if (skipped.length) {
    lines.push(`Skipped: ${[...new Set(skipped.map((r) => r.detail))].join('; ')}.`, '');
  }
  lines.push(`Result: ${summary()}.`, '');
  return lines.join('\n');
}

let versionsText = '';
function peerVersions() { return versionsText; }

async function collectVersions() {
  const v = [];
  const pkg = (name) => {
    try { return require(path.join(HERE, 'node_modules', name, 'package.json')).version; } catch { return '?'; }
  };
  v.push(`ws ${pkg('ws')}`, `websocket-driver ${pkg('websocket-driver')}`);
  const py = await run(PYTHON, ['-c', 'import websockets; print(websockets.__version__)'], 20000);
  v.push(`python websockets ${py.code === 0 ? py.out.trim() : '?'}`);
  if (browser) v.push(`Chromium ${browser.context.browser() ? browser.context.browser().version() : '?'}`);
  versionsText = v.join(', ');
}

function summary() {
  return `${counts.pass} passed, ${counts.fail} failed${counts.skip ? `, ${counts.skip} skipped` : ''}`;
}

// The chat demo's end-to-end test, a program of its own that prints
// PASS/FAIL lines.
async function chatE2E() {
  const name = 'chat demo';
  if (opts.only && !opts.only.test(name)) return;
  const shot = opts.screenshot || path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wsd-chat-')), 'chat.png');
  const child = startProcess(process.execPath, [path.join(HERE, 'chat_e2e.js'), '--chat', BIN('chat'), '--nats', BIN('nats-server'), '--screenshot', shot]);
  let tail = '';
  let seen = 0;
  const rl = readline.createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    const m = /^(PASS|FAIL|SKIP) chat: (.*?)(?:: (.*))?$/.exec(line);
    if (!m) return;
    seen++;
    const status = m[1].toLowerCase();
    // Without --screenshot the picture goes to a temporary file.
    record(status, '', `chat: ${m[2]}`, opts.screenshot || m[2] !== 'screenshot saved' ? m[3] : 'to a temporary file');
    chatResults.push({ status, name: m[2] });
  });
  child.stderr.on('data', (d) => { tail = (tail + d).slice(-500); });
  const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, 180000);
  const code = await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  if (code !== 0 && !chatResults.some((r) => r.status === 'fail')) {
    record('fail', '', 'chat: end-to-end test', `exited with ${code}: ${tail.trim().split('\n').slice(-2).join(' | ')}`);
    chatResults.push({ status: 'fail', name: 'end-to-end test' });
  } else if (seen === 0) {
    record('fail', '', 'chat: end-to-end test', 'printed no result');
  }
  if (!opts.screenshot) fs.rmSync(path.dirname(shot), { recursive: true, force: true });
}

// The browser client's test (wsd built for GOOS=js GOARCH=wasm, in
// Chromium), a program of its own that prints PASS/FAIL lines.
const wasmResults = []; // [{ status, name }]

async function wasmE2E() {
  const name = 'wasm browser client';
  if (opts.only && !opts.only.test(name)) return;
  const child = startProcess(process.execPath, [path.join(HERE, 'wasm_e2e.js'), '--server', BIN('wasmserver'), '--dir', BIN('wasm')]);
  let tail = '';
  let seen = 0;
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const m = /^(PASS|FAIL) wasm: (.*?)(?:: (.*))?$/.exec(line);
    if (!m) return;
    seen++;
    const status = m[1].toLowerCase();
    record(status, '', `wasm: ${m[2]}`, m[3]);
    wasmResults.push({ status, name: m[2] });
  });
  child.stderr.on('data', (d) => { tail = (tail + d).slice(-500); });
  const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, 180000);
  const code = await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  if (code !== 0 && !wasmResults.some((r) => r.status === 'fail')) {
    record('fail', '', 'wasm: browser client test', `exited with ${code}: ${tail.trim().split('\n').slice(-2).join(' | ')}`);
    wasmResults.push({ status: 'fail', name: 'browser client test' });
  } else if (seen === 0) {
    record('fail', '', 'wasm: browser client test', 'printed no result');
  }
}

// WebSockets over HTTP/2 from Chromium, a program of its own that prints
// PASS/FAIL lines.
async function http2E2E() {
  const name = 'http2';
  if (opts.only && !opts.only.test(name)) return;
  const child = startProcess(process.execPath, [path.join(HERE, 'http2_e2e.js'), '--server', BIN('h2peer')]);
  let tail = '';
  let seen = 0;
  let failed = 0;
  const rl = readline.createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    const m = /^(PASS|FAIL) http2: (.*?)(?:: (.*))?$/.exec(line);
    if (!m) return;
    seen++;
    if (m[1] === 'FAIL') failed++;
    record(m[1].toLowerCase(), '', `http2: ${m[2]}`, m[3]);
  });
  child.stderr.on('data', (d) => { tail = (tail + d).slice(-500); });
  const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, 150000);
  const code = await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  if (code !== 0 && !failed) {
    record('fail', '', 'http2: end-to-end test', `exited with ${code}: ${tail.trim().split('\n').slice(-2).join(' | ')}`);
  } else if (seen === 0) {
    record('fail', '', 'http2: end-to-end test', 'printed no result');
  }
}

async function main() {
  const watchdog = setTimeout(async () => {
    console.log(`FAIL suite: not finished after ${SUITE_TIMEOUT / 60000} minutes`);
    await stopAll();
    process.exit(1);
  }, SUITE_TIMEOUT);

  const deflate = await detectDeflate();
  if (!deflate) console.log('(wsd has no -deflate flag yet: the permessage-deflate checks are skipped)');

  for (const ck of checks) {
    const label = `${ck.column}: ${ROW_NAME[ck.row]}`;
    if (opts.only && !opts.only.test(label)) continue;
    if (!ck.run) continue;
    if (ck.row === 'deflate' && !deflate) {
      record('skip', ck.column, ck.row, 'wsd has no -deflate flag');
      continue;
    }
    let fail;
    try {
      fail = await ck.run();
    } catch (err) {
      fail = err.message || String(err);
    }
    record(fail ? 'fail' : 'pass', ck.column, ck.row, fail);
  }
  // A server that died during its checks is a failure of its own.
  for (const s of Object.values(servers)) {
    if (s.ready && s.addr && !s.alive()) record('fail', '', `${s.name} still running`, 'it exited during the checks');
  }
  await collectVersions();
  if (browser) await browser.close();
  await stopAll();

  await chatE2E();
  await stopAll();

  await http2E2E();
  await stopAll();

  await wasmE2E();
  await stopAll();

  clearTimeout(watchdog);
  if (opts.out) {
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    fs.writeFileSync(opts.out, matrix());
  }
  console.log(summary());
  process.exit(counts.fail ? 1 : 0);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    if (browser) await browser.close();
    await stopAll();
    process.exit(1);
  });
}

main().catch(async (err) => {
  console.log(`FAIL suite: ${err.stack || err}`);
  counts.fail++;
  if (browser) await browser.close();
  await stopAll();
  console.log(summary());
  process.exit(1);
});
