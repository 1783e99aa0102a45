'use strict';
// The chat demo's end-to-end test, in Chromium:
//
//   node chat_e2e.js [--chat BINARY] [--nats NATS-SERVER] [--screenshot PNG]
//
// Starts the chat server (BINARY, or a fresh build of ./examples/chat),
// opens two pages, sends from each and sees it in the other, restarts the
// server on the same address, checks that both pages come back and can
// chat again, and saves a screenshot of the two pages side by side to PNG.
// Then, with a NATS server (NATS-SERVER, or a fresh build), it runs two
// chat servers sharing the room through it, with a page on each, and
// checks that messages cross from one server to the other.
// Prints one PASS or FAIL line per step; exits 1 if any failed.

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { launch } = require('./browser');

const ROOT = path.dirname(__dirname);

function parseArgs(argv) {
  const opts = { chat: '', nats: '', screenshot: '' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--chat' && i + 1 < argv.length) opts.chat = path.resolve(argv[++i]);
    else if (argv[i] === '--nats' && i + 1 < argv.length) opts.nats = path.resolve(argv[++i]);
    else if (argv[i] === '--screenshot' && i + 1 < argv.length) opts.screenshot = path.resolve(argv[++i]);
    else {
      console.error('usage: node chat_e2e.js [--chat BINARY] [--nats NATS-SERVER] [--screenshot PNG]');
      process.exit(2);
    }
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
let failed = 0;
let tmp = null;

function report(ok, step, detail) {
  if (!ok) failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} chat: ${step}${detail ? `: ${detail}` : ''}`);
}

// One step: a pass if fn resolves, a failure with its message otherwise.
// A failed step ends the test, since the next ones build on it.
async function step(name, fn) {
  try {
    const detail = await fn();
    report(true, name, detail);
  } catch (err) {
    report(false, name, (err && err.message ? err.message : String(err)).split('\n')[0]);
    throw new Stop();
  }
}
class Stop extends Error {}

// The chat server, started and stopped by PID.
let server = null;

function startServer(bin, addr) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['-addr', addr], { stdio: ['ignore', 'pipe', 'pipe'] });
    server = child;
    let log = '';
    const timer = setTimeout(() => reject(new Error(`no address within 20 s ${log}`)), 20000);
    child.stderr.on('data', (d) => { log += d; });
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
    const kill = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, 5000);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    try { process.kill(child.pid, 'SIGTERM'); } catch { clearTimeout(kill); resolve(); }
  });
}

// The same address again: the old one may take a moment to be free.
async function restartServer(bin, addr) {
  let last;
  for (let i = 0; i < 20; i++) {
    try {
      return await startServer(bin, addr);
    } catch (err) {
      last = err;
      server = null;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw last;
}

// Other processes of the two-server test, each started and stopped by
// PID: start resolves with the first match of re in its output.
const others = [];

function startProc(bin, args, re) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    others.push(child);
    let log = '';
    const timer = setTimeout(() => reject(new Error(`${path.basename(bin)}: not ready within 20 s ${log}`)), 20000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${path.basename(bin)} exited with ${code}: ${log.trim()}`)); });
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        log += line + '\n';
        const m = re.exec(line);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
    }
  });
}

function stopProc(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    const kill = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, 5000);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    try { process.kill(child.pid, 'SIGTERM'); } catch { clearTimeout(kill); resolve(); }
  });
}

async function stopOthers() {
  while (others.length) await stopProc(others.pop());
}

async function waitState(page, want, timeout) {
  await page.waitForSelector(`#status[data-state="${want}"]`, { timeout });
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

async function sees(page, text, timeout = 10000) {
  await page.locator('.msg .text', { hasText: text }).first().waitFor({ timeout });
}

async function main() {
  let bin = opts.chat;
  if (!bin) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wsd-chat-'));
    bin = path.join(tmp, 'chat');
    execFileSync('go', ['build', '-o', bin, '.'], { cwd: path.join(ROOT, 'examples', 'chat'), stdio: 'inherit' });
  }
  let nats = opts.nats;
  if (!nats) {
    if (!tmp) tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wsd-chat-'));
    nats = path.join(tmp, 'nats-server');
    execFileSync('go', ['build', '-o', nats, 'github.com/nats-io/nats-server/v2'], { cwd: path.join(ROOT, 'hub', 'natsbroker'), stdio: 'inherit' });
  }
  let browser = null;
  try {
    let addr;
    await step('server starts', async () => { addr = await startServer(bin, '127.0.0.1:0'); return addr; });
    browser = await launch();
    const alice = browser.context.pages()[0] || await browser.context.newPage();
    const bob = await browser.context.newPage();
    for (const p of [alice, bob]) await p.setViewportSize({ width: 600, height: 520 });
    await step('two pages connect', async () => {
      await alice.goto(`http://${addr}/?name=alice`, { timeout: 20000 });
      await bob.goto(`http://${addr}/?name=bob`, { timeout: 20000 });
      await waitState(alice, 'open', 20000);
      await waitState(bob, 'open', 20000);
      await bob.locator('#members', { hasText: '2 members' }).waitFor({ timeout: 10000 });
    });
    await step('a message from one page shows in the other', async () => {
      await say(alice, 'Hello from Alice! Is anyone here?');
      await sees(bob, 'Hello from Alice!');
      await say(bob, 'Hi Alice, Bob here.');
      await sees(alice, 'Bob here');
    });
    await step('both pages see the server go away', async () => {
      await stopServer();
      await waitState(alice, 'closed', 10000);
      await waitState(bob, 'closed', 10000);
    });
    await step('both pages reconnect after the server restarts', async () => {
      await restartServer(bin, addr);
      await waitState(alice, 'open', 30000);
      await waitState(bob, 'open', 30000);
    });
    await step('chat works again after the reconnect', async () => {
      await say(bob, 'The server restarted and we are back.');
      await sees(alice, 'we are back');
      await say(alice, 'Reconnected without reloading the page.');
      await sees(bob, 'without reloading');
    });
    let natsURL, addr1, addr2;
    await step('two chat servers share the room through NATS', async () => {
      const hostPort = await startProc(nats, ['-a', '127.0.0.1', '-p', '-1'], /Listening for client connections on (\S+)/);
      natsURL = `nats://${hostPort}`;
      addr1 = await startProc(bin, ['-addr', '127.0.0.1:0', '-broker', natsURL], /listening on http:\/\/(\S+)/);
      addr2 = await startProc(bin, ['-addr', '127.0.0.1:0', '-broker', natsURL], /listening on http:\/\/(\S+)/);
      return `${addr1} and ${addr2} on ${natsURL}`;
    });
    await step('a page on each server; messages cross from one server to the other', async () => {
      const carol = await browser.context.newPage();
      const dave = await browser.context.newPage();
      await carol.goto(`http://${addr1}/?name=carol`, { timeout: 20000 });
      await dave.goto(`http://${addr2}/?name=dave`, { timeout: 20000 });
      await waitState(carol, 'open', 20000);
      await waitState(dave, 'open', 20000);
      // The servers subscribe as their first member joins: say it until
      // the other side hears it.
      for (let i = 0; ; i++) {
        await say(carol, `Carol on the first server, try ${i}`);
        try { await sees(dave, `Carol on the first server, try ${i}`, 1000); break; } catch (err) { if (i === 10) throw err; }
      }
      await say(dave, 'Dave on the second server answers.');
      await sees(carol, 'Dave on the second server answers.');
      await carol.close();
      await dave.close();
    });
    await step('screenshot saved', async () => {
      if (!opts.screenshot) return 'no --screenshot given';
      await shoot([alice, bob], browser, opts.screenshot);
      return opts.screenshot;
    });
  } catch (err) {
    if (!(err instanceof Stop)) report(false, 'end-to-end test', err.message.split('\n')[0]);
  } finally {
    if (browser) await browser.close();
    await stopServer();
    await stopOthers();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// shoot puts the two pages side by side, each under its name, in one PNG.
async function shoot(pages, browser, file) {
  const shots = [];
  for (const p of pages) shots.push((await p.screenshot()).toString('base64'));
  const names = ['alice', 'bob'];
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1260, height: 200 });
  await page.setContent(`<!doctype html><html><body style="margin:0;background:#d9dce3;
    font:600 14px system-ui,'DejaVu Sans',sans-serif;color:#374151">
    <div style="display:flex;gap:20px;padding:18px 20px">
    ${shots.map((s, i) => `<figure style="margin:0;flex:1">
      <figcaption style="margin:0 0 6px 4px">${names[i]}'s browser window</figcaption>
      <img style="width:100%;border-radius:8px;box-shadow:0 2px 8px rgba(0,0,0,.15)" src="data:image/png;base64,${s}">
    </figure>`).join('')}
    </div></body></html>`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: true });
  await page.close();
}

const watchdog = setTimeout(async () => {
  report(false, 'end-to-end test', 'not finished within 150 s');
  await stopServer();
  await stopOthers();
  process.exit(1);
}, 150000);

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await stopServer();
    await stopOthers();
    process.exit(1);
  });
}

main().then(() => {
  clearTimeout(watchdog);
  process.exit(failed ? 1 : 0);
});
