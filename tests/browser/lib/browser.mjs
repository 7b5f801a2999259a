// Debian's Chromium, driven headless by playwright-core (which never
// downloads a browser). Flags keep it off the network: this machine has
// none beyond loopback, and Chromium's background services would retry.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT } from './server.mjs';

export const SCREENSHOTS = path.join(ROOT, 'target/browser-screenshots');

export async function launch() {
  const executablePath = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
  // Playwright gives every launch a new, empty user-data-dir of its own.
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** A page in its own context (own storage), with the WebSocket frames it
 *  sends recorded from the browser's network layer, not from page code. */
export async function openPage(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.sentFrames = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', (frame) => {
      try {
        const msg = JSON.parse(frame.payload);
        page.sentFrames.push(typeof msg === 'string' ? msg : Object.keys(msg)[0]);
      } catch {
        page.sentFrames.push('(unreadable)');
      }
    });
  });
  page.on('pageerror', (err) => {
    page.errors = [...(page.errors ?? []), err];
    console.error(`page error: ${err.stack ?? err}`);
  });
  await page.goto(url);
  return page;
}

let shot = 0;
/** Saves a screenshot as target/browser-screenshots/NN-name.png. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  shot += 1;
  const file = path.join(SCREENSHOTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** Counts of each message kind a page sent. */
export function sentCounts(page) {
  const counts = {};
  for (const kind of page.sentFrames) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}
