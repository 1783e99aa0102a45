'use strict';
// WebSockets over HTTP/2 (RFC 8441) from Chromium to a wsd server:
//
//   node http2_e2e.js [--server BINARY]
//
// Starts h2peer (BINARY, or a fresh build of ./interop/h2peer): wss:// on
// net/http with HTTP/2 and a self-signed certificate, which Chromium is told
// to trust by its key. Loads the server's page over HTTPS, which gives the
// browser an HTTP/2 connection, then opens WebSockets from the page and
// checks, from what the server saw, that each came as an extended CONNECT
// on HTTP/2, not over HTTP/1.1. Prints one PASS or FAIL line per step;
// exits 1 if any failed.

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { launch } = require('./browser');

const ROOT = path.dirname(__dirname);

function parseArgs(argv) {
  const opts = { server: '' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--server' && i + 1 < argv.length) opts.server = path.resolve(argv[++i]);
    else {
      console.error('usage: node http2_e2e.js [--server BINARY]');
      process.exit(2);
    }
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
let failed = 0;
let tmp = null;
let server = null;

function report(ok, step, detail) {
  if (!ok) failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} http2: ${step}${detail ? `: ${detail}` : ''}`);
}

async function step(name, fn) {
  try {
    report(true, name, await fn());
  } catch (err) {
    report(false, name, (err && err.message ? err.message : String(err)).split('\n')[0]);
    throw new Stop();
  }
}
class Stop extends Error {}

// startServer resolves to { addr, spki } once h2peer prints its address.
function startServer(bin) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['-addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    server = child;
    let log = '';
    const timer = setTimeout(() => reject(new Error(`no address within 20 s ${log}`)), 20000);
    child.stderr.on('data', (d) => { log += d; });
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}: ${log.trim()}`)); });
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /listening on https:\/\/(\S+) spki=(\S+)/.exec(line);
      if (m) { clearTimeout(timer); resolve({ addr: m[1], spki: m[2] }); }
    });
  });
}

function stopServer() {
  const child = server;
  server = null;
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const kill = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, 5000);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    try { process.kill(child.pid, 'SIGTERM'); } catch { clearTimeout(kill); resolve(); }
  });
}

// Runs in the page: opens url, sends text, binary and 1 MiB, expects each
// back, then closes with 4001 (or, for /close, expects the server's code).
async function exchange(url) {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const queue = [];
  let wake = null;
  ws.onmessage = (e) => { queue.push(e.data); if (wake) wake(); };
  const closed = new Promise((resolve) => { ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }); });
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('WebSocket error before open'));
  });
  const next = async () => {
    while (queue.length === 0) await new Promise((r) => { wake = r; });
    return queue.shift();
  };
  const same = (a, b) => a.byteLength === b.byteLength && new Uint8Array(a).every((v, i) => v === new Uint8Array(b)[i]);
  const out = { echoes: [] };
  if (url.includes('/close')) {
    ws.send('close me');
  } else {
    ws.send('hello over h2');
    out.echoes.push((await next()) === 'hello over h2');
    const bin = new Uint8Array([0, 1, 2, 254, 255]).buffer;
    ws.send(bin);
    const gotBin = await next();
    out.echoes.push(gotBin instanceof ArrayBuffer && same(gotBin, bin));
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    ws.send(big.buffer);
    const gotBig = await next();
    out.echoes.push(gotBig instanceof ArrayBuffer && same(gotBig, big.buffer));
    ws.close(4001, 'bye from chromium');
  }
  out.close = await closed;
  return out;
}

async function result(page, origin) {
  return page.evaluate(async (o) => (await fetch(o + '/result')).json(), origin);
}

async function main() {
  let bin = opts.server;
  if (!bin) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wsd-h2-'));
    bin = path.join(tmp, 'h2peer');
    execFileSync('go', ['build', '-o', bin, './interop/h2peer'], { cwd: ROOT, stdio: 'inherit' });
  }
  let browser = null;
  try {
    let srv;
    await step('server starts', async () => { srv = await startServer(bin); return srv.addr; });
    const origin = `https://${srv.addr}`;
    browser = await launch([`--ignore-certificate-errors-spki-list=${srv.spki}`]);
    const page = browser.context.pages()[0] || await browser.context.newPage();
    await step('the page loads over HTTP/2', async () => {
      const resp = await page.goto(origin + '/', { timeout: 20000 });
      const proto = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
      if (!resp.ok() || proto !== 'h2') throw new Error(`status ${resp.status()}, protocol ${proto}`);
      return proto;
    });
    await step('text, binary and 1 MiB echo', async () => {
      const out = await page.evaluate(exchange, `wss://${srv.addr}/echo`);
      if (out.echoes.length !== 3 || !out.echoes.every(Boolean)) throw new Error(`echoes ${JSON.stringify(out.echoes)}`);
      if (out.close.code !== 4001 || out.close.reason !== 'bye from chromium') throw new Error(`browser saw close ${JSON.stringify(out.close)}`);
    });
    await step('the server saw an extended CONNECT on HTTP/2 and the close', async () => {
      const all = await result(page, origin);
      const s = all.find((x) => x.path === '/echo');
      if (!s) throw new Error(`no WebSocket seen: ${JSON.stringify(all)}`);
      if (s.proto !== 'HTTP/2.0' || s.method !== 'CONNECT' || s.protocol !== 'websocket' || !s.http2) {
        throw new Error(`came as ${s.proto} ${s.method} :protocol=${s.protocol} http2=${s.http2}`);
      }
      if (s.messages !== 3 || s.bytes !== 13 + 5 + (1 << 20)) throw new Error(`server got ${s.messages} messages, ${s.bytes} bytes`);
      if (!s.closed || s.closeCode !== 4001 || s.closeReason !== 'bye from chromium') throw new Error(`server saw close ${s.closeCode} ${s.closeReason}`);
      return `${s.proto} ${s.method} :protocol=${s.protocol}`;
    });
    await step('a close from the server reaches the browser', async () => {
      const out = await page.evaluate(exchange, `wss://${srv.addr}/close?code=4002&reason=bye+from+wsd`);
      if (out.close.code !== 4002 || out.close.reason !== 'bye from wsd') throw new Error(`browser saw close ${JSON.stringify(out.close)}`);
      const s = (await result(page, origin)).find((x) => x.path === '/close');
      if (!s || s.proto !== 'HTTP/2.0' || !s.closed || s.closeCode !== 4002) throw new Error(`server saw ${JSON.stringify(s)}`);
    });
  } catch (err) {
    if (!(err instanceof Stop)) report(false, 'http2 test', err && err.message ? err.message : String(err));
  } finally {
    if (browser) await browser.close();
    await stopServer();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const watchdog = setTimeout(async () => {
  report(false, 'end-to-end test', 'not finished within 120 s');
  await stopServer();
  process.exit(1);
}, 120000);

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await stopServer();
    process.exit(1);
  });
}

main().then(() => {
  clearTimeout(watchdog);
  process.exit(failed ? 1 : 0);
});
