'use strict';
// The browser client's test, in Chromium:
//
//   node wasm_e2e.js --server BINARY --dir DIR
//
// DIR holds client.wasm (interop/wasm/client built with GOOS=js
// GOARCH=wasm) and the Go distribution's wasm_exec.js; BINARY is
// interop/wasm/server. Starts the server, opens its page, which runs the
// client against the server, and prints the client's results as one PASS
// or FAIL line per check; exits 1 if any failed or the client did not
// finish.

const { spawn } = require('child_process');
const path = require('path');
const readline = require('readline');
const { launch } = require('./browser');

function parseArgs(argv) {
  const opts = { server: '', dir: '' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--server' && i + 1 < argv.length) opts.server = path.resolve(argv[++i]);
    else if (argv[i] === '--dir' && i + 1 < argv.length) opts.dir = path.resolve(argv[++i]);
    else usage();
  }
  if (!opts.server || !opts.dir) usage();
  return opts;
}

function usage() {
  console.error('usage: node wasm_e2e.js --server BINARY --dir DIR');
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
const CLIENT_TIMEOUT = 120000;
let failed = 0;
let server = null;
let browser = null;

function report(ok, name, detail) {
  if (!ok) failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} wasm: ${name}${detail ? `: ${detail}` : ''}`);
}

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.server, ['-dir', opts.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    server = child;
    let log = '';
    const timer = setTimeout(() => reject(new Error(`no address within 20 s ${log}`)), 20000);
    child.stderr.on('data', (d) => { log = (log + d).slice(-1000); });
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}: ${log.trim()}`)); });
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /listening on http:\/\/(\S+)/.exec(line);
      if (m) { clearTimeout(timer); resolve(m[1]); }
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
    const kill = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, 3000);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    try { process.kill(child.pid, 'SIGTERM'); } catch { clearTimeout(kill); resolve(); }
  });
}

async function cleanup() {
  if (browser) await browser.close();
  browser = null;
  await stopServer();
}

async function main() {
  let addr;
  try {
    addr = await startServer();
    browser = await launch();
  } catch (err) {
    report(false, 'start', err.message.split('\n')[0]);
    return;
  }
  const page = await browser.context.newPage();
  let seen = 0;
  const finished = new Promise((resolve) => {
    page.on('console', (msg) => {
      const text = msg.text();
      const m = /^(PASS|FAIL) (.*?)(?:: (.*))?$/.exec(text);
      if (m) {
        seen++;
        report(m[1] === 'PASS', m[2], m[3]);
      } else if (text === 'DONE') {
        resolve(true);
      } else if (/panic|fatal error/.test(text)) {
        report(false, 'client', text.split('\n')[0]);
        resolve(false);
      }
    });
    page.on('pageerror', (err) => {
      report(false, 'page', String(err.message || err).split('\n')[0]);
      resolve(false);
    });
  });
  await page.goto(`http://${addr}/`);
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), CLIENT_TIMEOUT));
  const done = await Promise.race([finished, timeout]);
  if (done === null) report(false, 'client', `not finished within ${CLIENT_TIMEOUT / 1000} s`);
  if (seen === 0) report(false, 'client', 'reported no checks');
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await cleanup();
    process.exit(1);
  });
}

main()
  .catch((err) => report(false, 'test', String(err.stack || err).split('\n')[0]))
  .then(cleanup)
  .then(() => process.exit(failed ? 1 : 0));
