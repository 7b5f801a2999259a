import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
const URL = 'http://127.0.0.1:18480/';
const BOT = '/work/wt-web/target/debug/stadium-bot';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const page = await (await browser.newContext({ viewport: { width: 1360, height: 900 } })).newPage();
page.on('pageerror', (e) => console.log('PAGE ERROR', e));
await page.goto(URL);
await page.getByTestId('nickname').fill('Me');
await page.getByTestId('nickname').press('Enter');
await page.waitForFunction(() => window.stadium.status === 'online');
const set = async (k, v) => page.locator(`#settings input[data-setting="${k}"]`).fill(String(v));
await set('questions', 3); await set('question_secs', 8); await set('reveal_secs', 3); await set('max_players', 4); await set('start_countdown_secs', 5);
await page.getByTestId('create-room').click();
await page.waitForFunction(() => window.stadium.room);
const code = await page.evaluate(() => window.stadium.room.code);
console.log('trivia room', code);
const bots = spawn(BOT, ['--url', 'ws://127.0.0.1:18480/ws', '--ws-json', '--game', 'trivia', '--bots', '3', '--room', code, '--duration', '45s'], { stdio: ['ignore', 'pipe', 'pipe'] });
let botOut = ''; bots.stdout.on('data', (d) => botOut += d); bots.stderr.on('data', (d) => botOut += d);
for (let q = 0; q < 3; q++) {
  await page.waitForSelector(`[data-testid="question"][data-index="${q}"]`, { timeout: 30000 });
  if (q === 0) await page.screenshot({ path: '/tmp/play/trivia-q1.png' });
  await page.waitForTimeout(1500 + q * 500);
  await page.getByTestId(`choice-${q % 4}`).click();
  await page.waitForSelector('[data-testid^="choice-"][data-result="correct"]', { timeout: 15000 });
  await page.screenshot({ path: `/tmp/play/trivia-reveal-${q + 1}.png` });
}
await page.waitForSelector('[data-testid="standings"] li', { state: 'visible', timeout: 15000 });
await page.screenshot({ path: '/tmp/play/trivia-final.png' });
console.log(await page.locator('[data-testid="standings"]').innerText());
await page.getByTestId('leave').click();
await page.getByTestId('game-select').selectOption('asteroids');
await set('rocks_per_wave', 4); await set('match_secs', 30);
await page.getByTestId('create-room').click();
await page.waitForFunction(() => window.stadium.room?.game === 'asteroids');
const arena = await page.evaluate(() => window.stadium.room.code);
console.log('arena room', arena);
const bots2 = spawn(BOT, ['--url', 'ws://127.0.0.1:18480/ws', '--ws-json', '--game', 'asteroids', '--bots', '3', '--room', arena, '--duration', '20s'], { stdio: ['ignore', 'pipe', 'pipe'] });
let bot2Out = ''; bots2.stdout.on('data', (d) => bot2Out += d); bots2.stderr.on('data', (d) => bot2Out += d);
await page.waitForFunction(() => window.stadium.arena().ships >= 4, null, { timeout: 20000 });
await page.getByTestId('arena-canvas').click();
for (let i = 0; i < 12; i++) {
  await page.keyboard.down(i % 3 === 0 ? 'ArrowLeft' : 'ArrowUp');
  await page.keyboard.down('Space');
  await page.waitForTimeout(400);
  await page.keyboard.up('ArrowLeft'); await page.keyboard.up('ArrowUp');
  if (i === 5) await page.screenshot({ path: '/tmp/play/arena-1.png' });
}
await page.keyboard.up('Space');
await page.screenshot({ path: '/tmp/play/arena-2.png' });
console.log(JSON.stringify(await page.evaluate(() => window.stadium.arena())));
console.log(await page.locator('[data-testid="arena-players"]').innerText());
await new Promise((r) => bots2.on('exit', r));
await new Promise((r) => bots.exitCode !== null ? r() : bots.on('exit', r));
console.log('--- trivia bots\n' + botOut.slice(-1500));
console.log('--- arena bots\n' + bot2Out.slice(-1500));
await browser.close();
