'use strict';
// Starts Debian's Chromium through playwright-core: headless, without the
// sandbox (CI runs as root), with nothing that phones home, in a fresh
// profile directory that is removed on close.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const EXECUTABLE = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// launch returns { context, close }. The profile directory is passed as
// the persistent context's user data dir, which is how playwright takes
// --user-data-dir. extraArgs are added to Chromium's command line.
async function launch(extraArgs = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsd-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(dir, {
      executablePath: EXECUTABLE,
      headless: true,
      args: [...ARGS, ...extraArgs],
      timeout: 60000,
      viewport: { width: 900, height: 600 },
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { launch, EXECUTABLE };
