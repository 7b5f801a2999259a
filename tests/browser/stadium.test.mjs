// The web client in a real browser against a real server: two players
// create, join and play a trivia question; chat and presence cross between
// pages; an Asteroids player thrusts while a spectator watches without
// sending a single input; a dropped connection comes back into its room.
// Screenshots of each step go to target/browser-screenshots/.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './lib/server.mjs';
import { launch, openPage, screenshot, sentCounts } from './lib/browser.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACK = path.join(HERE, 'fixtures/pack.json');
const pack = JSON.parse(readFileSync(PACK, 'utf8'));
/** Generous per-step limit: waits end on conditions, this only bounds a failure. */
const STEP = { timeout: 15_000 };

/** Trivia points, as shared/src/trivia.rs `points`. */
function points(correct, elapsedMs, timeMs) {
  if (!correct || timeMs === 0) return 0;
  return 100 + Math.floor((100 * Math.max(0, timeMs - elapsedMs)) / timeMs);
}

let server;
let browser;

before(async () => {
  server = await startServer(['--trivia-pack', PACK, '--no-builtin-pack']);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function nickname(page, name) {
  const input = page.getByTestId('nickname');
  await input.fill(name);
  await input.press('Enter');
  await page.waitForFunction((n) => window.stadium?.status === 'online', name, STEP);
}

async function setting(page, key, value) {
  await page.locator(`#settings input[data-setting="${key}"]`).fill(String(value));
}

async function createRoom(page, game, settings) {
  await page.getByTestId('game-select').selectOption(game);
  for (const [key, value] of Object.entries(settings)) await setting(page, key, value);
  await page.getByTestId('create-room').click();
  await page.waitForFunction(() => /^[A-Z2-9]{4}$/.test(document.querySelector('[data-testid="room-code"]')?.textContent ?? '') && !document.querySelector('#room').hidden, null, STEP);
  return (await page.getByTestId('room-code').textContent()).trim();
}

/** Waits for `fn(arg)` in the page; on a timeout, says what the page held. */
async function waitFor(page, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, STEP);
  } catch (err) {
    const state = await page.evaluate(() => ({
      status: window.stadium.status, session: window.stadium.session, room: window.stadium.room,
      arena: window.stadium.arena(), sent: window.stadium.sent, received: window.stadium.received,
      errors: window.stadium.errors,
    }));
    throw new Error(`${err.message}\npage state: ${JSON.stringify(state)}`);
  }
}

async function session(page) {
  return page.evaluate(() => window.stadium.session);
}

describe('the web client', () => {
  let ada;
  let grace;
  let code;

  test('two players create and join a trivia room, answer, and see the reveal and scores', async () => {
    ada = await openPage(browser, server.url);
    await nickname(ada, 'Ada');
    await screenshot(ada, 'lobby');
    code = await createRoom(ada, 'trivia', {
      questions: 1, question_secs: 10, reveal_secs: 2, max_players: 2, start_countdown_secs: 30,
    });
    await screenshot(ada, 'trivia-waiting');

    // A spectator, ready to watch once the question is open.
    const sam = await openPage(browser, server.url);
    await nickname(sam, 'Sam');
    await sam.getByTestId('join-code').fill(code);

    grace = await openPage(browser, server.url);
    await nickname(grace, 'Grace');
    // The room list is live: the room Ada opened is listed without a reload.
    await grace.waitForSelector(`[data-testid="room-list"] li[data-code="${code}"]`, STEP);
    // Characters no code holds are refused as typed, by name.
    await grace.getByTestId('join-code').fill('k0');
    assert.equal(await grace.getByTestId('join-code').inputValue(), 'K');
    assert.match(await grace.getByTestId('code-hint').textContent(), /never contain “0”/);
    await screenshot(grace, 'lobby-code-refused');
    // A wrong code is refused with a readable message.
    await grace.getByTestId('join-code').fill('ZZZZ');
    await grace.getByTestId('join-button').click();
    await grace.waitForSelector('.toast:has-text("No open room has that code")', STEP);
    await screenshot(grace, 'lobby-room-list-and-error');
    // Sam's row for the room is updated in place when Grace takes the
    // last seat, not rebuilt and animated again.
    const row = `[data-testid="room-list"] li[data-code="${code}"]`;
    await sam.waitForSelector(row, STEP);
    await sam.waitForFunction((sel) => !document.querySelector(sel).classList.contains('new'), row, STEP);
    await sam.locator(row).evaluate((el) => { el.dataset.probe = 'kept'; });
    await grace.getByTestId('join-code').fill(code.toLowerCase());
    await grace.getByTestId('join-button').click();
    await sam.waitForSelector(`${row}[data-state="running"]`, STEP);
    assert.equal(await sam.locator(row).getAttribute('data-probe'), 'kept');
    assert.equal(await sam.locator(`${row}.new`).count(), 0);
    assert.match(await sam.locator(`${row} .meta`).textContent(), /^2\/2 players/);

    // The room is full with two: the match starts and the question opens.
    for (const page of [ada, grace]) {
      await page.waitForSelector('[data-testid="question"]:not(:empty)', { ...STEP, state: 'visible' });
    }
    const text = await ada.getByTestId('question').textContent();
    const asked = pack.questions.find((q) => q.question === text);
    assert.ok(asked, `the question "${text}" is from the test pack`);
    const choices = await ada.locator('.choice .text').allTextContents();
    assert.deepEqual(await grace.locator('.choice .text').allTextContents(), choices);
    const right = choices.indexOf(asked.correct_answer);
    const wrong = (right + 1) % 4;
    await screenshot(grace, 'trivia-question');

    // Watching from mid-question: the open question, its time left, no
    // choice to click.
    await sam.getByTestId('spectate').click();
    await sam.waitForSelector('[data-testid="question"]:not(:empty)', { ...STEP, state: 'visible' });
    assert.equal(await sam.getByTestId('question').textContent(), text);
    assert.deepEqual(await sam.locator('.choice .text').allTextContents(), choices);
    assert.equal(await sam.getByTestId('choice-0').isDisabled(), true);
    const left = Number(await sam.locator('#q-seconds').textContent());
    assert.ok(left >= 1 && left <= 10, `seconds left: ${left}`);
    await screenshot(sam, 'trivia-spectator-mid-question');

    await ada.getByTestId(`choice-${right}`).click();
    await grace.getByTestId(`choice-${wrong}`).click();
    const seen = {};
    for (const [name, page, choice] of [['ada', ada, right], ['grace', grace, wrong]]) {
      // Locked: a second click changes nothing.
      assert.equal(await page.getByTestId(`choice-${(choice + 2) % 4}`).isDisabled(), true);
      await page.waitForSelector('[data-testid="answer-status"][data-elapsed-ms]', STEP);
      await page.waitForSelector('[data-testid^="choice-"][data-result="correct"]', STEP);
      const elapsedMs = Number(await page.getByTestId('answer-status').getAttribute('data-elapsed-ms'));
      const timeMs = Number(await page.getByTestId('question').getAttribute('data-time-ms'));
      const revealed = await page.locator('[data-testid^="choice-"][data-result="correct"]').getAttribute('data-index');
      assert.equal(Number(revealed), right, `${name} sees the right choice revealed`);
      seen[name] = { session: await session(page), expected: points(choice === right, elapsedMs, timeMs) };
    }
    assert.ok(seen.ada.expected >= 100, `a right answer scores at least 100: ${JSON.stringify(seen)}`);
    assert.equal(seen.grace.expected, 0);
    // The right choice stands out in full at the reveal, picked or not.
    for (const page of [grace, sam]) {
      const opacity = await page.getByTestId(`choice-${right}`).evaluate((el) => getComputedStyle(el).opacity);
      assert.equal(opacity, '1');
    }
    await sam.waitForSelector(`[data-testid="choice-${right}"][data-result="correct"]`, STEP);
    await screenshot(ada, 'trivia-reveal-right');
    await screenshot(grace, 'trivia-reveal-wrong');

    for (const page of [ada, grace]) {
      for (const { session: s, expected } of Object.values(seen)) {
        await page.waitForSelector(`[data-testid="scoreboard"] li[data-session="${s}"][data-score="${expected}"]`, STEP);
      }
    }
    // One question: the final standings follow the reveal.
    await ada.waitForSelector('[data-testid="standings"] li', { ...STEP, state: 'visible' });
    const first = await ada.locator('[data-testid="standings"] li').first().getAttribute('data-session');
    assert.equal(Number(first), seen.ada.session);
    // The room is full: the next match starts as the standings end, and
    // the page counts down to it.
    await ada.waitForFunction(() => /^[1-5]$/.test(document.querySelector('[data-testid="final-count"]')?.textContent ?? ''), null, STEP);
    await screenshot(ada, 'trivia-final-standings');
    await sam.context().close();
  });

  test('chat crosses between pages, and presence updates when a page closes', async () => {
    await ada.getByTestId('chat-input').fill('gg, well played!');
    await ada.getByTestId('chat-input').press('Enter');
    await grace.waitForSelector('[data-testid="chat-log"] li:has-text("gg, well played!")', STEP);
    await screenshot(grace, 'chat');

    const graceSession = await session(grace);
    await ada.waitForSelector(`[data-testid="presence"] li[data-session="${graceSession}"]`, STEP);
    await grace.context().close();
    await ada.waitForSelector(`[data-testid="presence"] li[data-session="${graceSession}"]`, { ...STEP, state: 'detached' });
    assert.equal(await ada.locator('[data-testid="presence"] li').count(), 1);
    await screenshot(ada, 'presence-after-close');
    await ada.context().close();
  });

  test('an arena player thrusts and moves; a spectator watches and sends no inputs', async () => {
    const lin = await openPage(browser, server.url);
    await nickname(lin, 'Lin');
    const arena = await createRoom(lin, 'asteroids', { rocks_per_wave: 3, match_secs: 120, max_players: 4 });
    await lin.waitForFunction(() => window.stadium.arena().ownShip !== null, null, STEP);
    const start = await lin.evaluate(() => window.stadium.arena().ownShip);

    await lin.getByTestId('arena-canvas').click();
    await lin.keyboard.down('ArrowUp');
    // The position the server sends, not the local prediction, moves.
    await lin.waitForFunction((p) => {
      const s = window.stadium.arena().ownShip;
      return s && Math.hypot(s.x - p.x, s.y - p.y) > 20;
    }, start, STEP);
    await screenshot(lin, 'arena-thrust');
    await lin.keyboard.up('ArrowUp');
    const sentByLin = sentCounts(lin);
    assert.ok(sentByLin.input > 0 && sentByLin.ack > 0, JSON.stringify(sentByLin));

    const watcher = await openPage(browser, server.url);
    await nickname(watcher, 'Watcher');
    await watcher.waitForSelector(`[data-testid="room-list"] li[data-code="${arena}"]`, STEP);
    await watcher.getByTestId('join-code').fill(arena);
    await watcher.getByTestId('spectate').click();
    await watcher.waitForFunction(() => {
      const a = window.stadium.arena();
      return a.snapshots >= 30 && a.ships === 1;
    }, null, STEP);
    // Arriving mid-match, the spectator sees the match clock all the same.
    await watcher.waitForFunction(() => /^[12]:\d\d$/.test(document.querySelector('#arena-clock').textContent), null, STEP);
    // Both see the same room: Lin's ship, and the spectator in presence.
    const linSession = await session(lin);
    const watcherSession = await session(watcher);
    await watcher.waitForSelector(`[data-testid="arena-players"] li[data-session="${linSession}"]`, STEP);
    await lin.waitForSelector(`[data-testid="presence"] li[data-session="${watcherSession}"][data-role="spectator"]`, STEP);
    await watcher.keyboard.down('ArrowUp');
    await watcher.keyboard.press('Space');
    await watcher.waitForFunction(() => window.stadium.arena().snapshots >= 45, null, STEP);
    await watcher.keyboard.up('ArrowUp');
    await screenshot(watcher, 'arena-spectator');

    // The player rebuilds its states from deltas, the spectator receives
    // them in full: at a tick both hold, they are the same, entity by entity.
    const watcherTicks = await watcher.evaluate(() => window.stadium.arenaTicks());
    const both = await lin.evaluate((ticks) => window.stadium.arenaTicks().filter((t) => ticks.includes(t)), watcherTicks);
    assert.ok(both.length > 0, 'the two pages hold a tick in common');
    const tick = both[both.length - 1];
    const rebuilt = await lin.evaluate((t) => window.stadium.arenaState(t), tick);
    const full = await watcher.evaluate((t) => window.stadium.arenaState(t), tick);
    assert.ok(rebuilt.length >= 4, `ships and rocks at tick ${tick}`);
    assert.deepEqual(rebuilt, full);
    assert.ok((await lin.evaluate(() => window.stadium.arena().deltas)) > 0, 'the player received deltas');
    assert.equal(await watcher.evaluate(() => window.stadium.arena().deltas), 0);
    await screenshot(lin, 'arena-player-sees-spectator');

    // Counted from the browser's network layer: no input, no ack, ever.
    const sent = sentCounts(watcher);
    assert.equal(sent.input ?? 0, 0, JSON.stringify(sent));
    assert.equal(sent.ack ?? 0, 0, JSON.stringify(sent));
    assert.deepEqual(await watcher.locator('.toast').allTextContents(), []);
    const rooms = await (await fetch(`${server.url}/api/rooms`)).json();
    const listed = rooms.find((r) => r.code === arena);
    assert.equal(listed.players, 1);
    assert.equal(listed.spectators, 1);

    // Quick join seats a new player in the open arena (running, with seats)
    // rather than opening a new one.
    const quick = await openPage(browser, server.url);
    await nickname(quick, 'Quick');
    await quick.getByTestId('game-select').selectOption('asteroids');
    await quick.getByTestId('quick-join').click();
    await quick.waitForFunction((code) => window.stadium.room?.code === code
      && window.stadium.arena().ownShip !== null
      && /^[12]:\d\d$/.test(document.querySelector('#arena-clock').textContent), arena, STEP);
    const quickSession = await session(quick);
    await lin.waitForSelector(`[data-testid="presence"] li[data-session="${quickSession}"][data-role="player"]`, STEP);
    await lin.waitForFunction(() => window.stadium.arena().ships === 2, null, STEP);
    await screenshot(lin, 'arena-two-players');

    // A dropped connection shows its state, then comes back into the room.
    await lin.evaluate(() => window.stadium.dropConnection());
    await lin.waitForSelector('#banner', { ...STEP, state: 'visible' });
    await screenshot(lin, 'connection-lost');
    await waitFor(lin, (code) => window.stadium.status === 'online'
      && window.stadium.room?.code === code && window.stadium.arena().ships >= 1
      && window.stadium.arena().ownShip !== null, arena);
    await lin.waitForSelector('#banner', { ...STEP, state: 'hidden' });
    // It resumed: the same session and seat, not a second join.
    assert.equal(await session(lin), linSession);
    const resent = sentCounts(lin);
    assert.equal(resent.resume, 1, JSON.stringify(resent));
    assert.equal(resent.join_room, 1, `only the join after creating: ${JSON.stringify(resent)}`);
    await watcher.waitForSelector(`[data-testid="arena-players"] li[data-session="${linSession}"]`, STEP);
    await screenshot(lin, 'reconnected');

    // A spectator's seat is not kept: its resume is refused, and it joins
    // again by code, as a new session, still watching.
    await watcher.evaluate(() => window.stadium.dropConnection());
    await watcher.waitForFunction((old) => window.stadium.status === 'online'
      && window.stadium.session !== old && window.stadium.room?.role === 'spectator'
      && document.querySelector(`[data-testid="presence"] li[data-session="${window.stadium.session}"][data-role="spectator"]`),
    watcherSession, STEP);
    const rewatch = sentCounts(watcher);
    assert.equal(rewatch.resume, 1, JSON.stringify(rewatch));
    assert.equal(rewatch.join_room, 2, JSON.stringify(rewatch));
    assert.equal((rewatch.input ?? 0) + (rewatch.ack ?? 0), 0, JSON.stringify(rewatch));

    for (const page of [quick, watcher, lin]) await page.context().close();
  });

  test('a stopped server\'s rooms are no longer offered', async () => {
    const own = await startServer([]);
    try {
      const host = await openPage(browser, own.url);
      await nickname(host, 'Host');
      const room = await createRoom(host, 'trivia', { max_players: 4 });
      const guest = await openPage(browser, own.url);
      await nickname(guest, 'Guest');
      await guest.waitForSelector(`[data-testid="room-list"] li[data-code="${room}"]`, STEP);
      await own.stop();
      await guest.waitForSelector('#banner', { ...STEP, state: 'visible' });
      await guest.waitForSelector('[data-testid="room-list"] li', { ...STEP, state: 'detached' });
      assert.match(await guest.locator('#room-empty').textContent(), /^Offline/);
      await screenshot(guest, 'lobby-offline');
      for (const page of [host, guest]) await page.context().close();
    } finally {
      await own.stop();
    }
  });
});
