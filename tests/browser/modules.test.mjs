// The page's protocol modules on their own, without a browser: the cases
// of shared/src/snapshot.rs and shared/src/asteroids.rs, so that the
// JavaScript mirror keeps the Rust behaviour it copies.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applySnapshot, MissingBaseline, SnapshotBuffer, tickSince,
} from '../../assets/web/js/snapshot.js';
import {
  MAX_SHIP_SPEED, Predictor, drift, offset, steer, wrap,
} from '../../assets/web/js/predict.js';

const rock = (x, y, vx, vy = -40) => ({ rock: { body: { x, y, vx, vy }, size: 'large' } });
const snapshot = (tick, baseline, fields) => ({
  tick, baseline, last_input: 0, tick_hz: 30, changed: [], motion: [0x80], removed: [], ...fields,
});
const ship = (fields, body) => ({
  ship: {
    owner: 1, body: { x: 7, y: 10, vx: 0, vy: 0, ...body }, angle: 0, flags: 0, lives: 3, score: 0,
    ax: 0, ay: 0, spin: 0, ...fields,
  },
});

test('a body moving as predicted needs no correction, across the edge', () => {
  // As a_rock_drifting_as_predicted_costs_nothing: three ticks at 30 Hz,
  // 480 * 8 * 3 / 30 = 384 steps right and 32 up, across the top edge.
  const base = applySnapshot(null, snapshot(10, null, { changed: [[1, rock(100, 5, 480)]] }));
  const state = applySnapshot(base, snapshot(13, 10, {}));
  assert.deepEqual(state.entities.get(1), rock(484, 38373, 480));
});

test('a ship under steady controls follows its rates; bit-packed corrections apply', () => {
  // As a_ship_under_steady_controls_costs_nothing: one tick from x 1000,
  // vx 300, ax 10, heading 65400, spin 400.
  const flying = (x, vx, angle) => ship(
    { angle, flags: 1, ax: 10, spin: 400 }, { x, y: 1000, vx },
  );
  const base = applySnapshot(null, snapshot(1, null, { changed: [[7, flying(1000, 300, 65400)]] }));
  assert.deepEqual(applySnapshot(base, snapshot(2, 1, {})).entities.get(7), flying(1083, 310, 264));
  // The server's bytes for one step further in x.
  const nudged = applySnapshot(base, snapshot(2, 1, { motion: [0x42, 0x3d, 0xf8] }));
  assert.deepEqual(nudged.entities.get(7), flying(1084, 310, 264));
});

test('ship headings wrap the short way around', () => {
  // As ship_headings_wrap_the_short_way: dangle 2 from 65535.
  const base = applySnapshot(null, snapshot(0, null, { changed: [[2, ship({ angle: 65535 })]] }));
  const state = applySnapshot(base, snapshot(1, 0, { motion: [0x4f, 0xf9, 0x60] }));
  assert.deepEqual(state.entities.get(2), ship({ angle: 1 }));
});

test('broken motion bits are ignored without throwing', () => {
  const base = applySnapshot(null, snapshot(1, null, { changed: [[1, ship({})], [2, ship({})]] }));
  for (const motion of [[], new Array(40).fill(0xff), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0x01]]) {
    const state = applySnapshot(base, snapshot(2, 1, { motion }));
    assert.equal(state.entities.size, 2);
  }
});

test('deltas remove, replace and keep ids in order; a full snapshot starts over', () => {
  const base = applySnapshot(null, snapshot(1, null, { changed: [[3, rock(1, 1, 0)], [1, rock(2, 2, 0)]] }));
  assert.deepEqual([...base.entities.keys()], [1, 3]);
  const next = applySnapshot(base, snapshot(2, 1, { removed: [3], changed: [[2, rock(9, 9, 0)]] }));
  assert.deepEqual([...next.entities.keys()], [1, 2]);
  const full = applySnapshot(next, snapshot(3, null, { changed: [[7, rock(4, 4, 0)]] }));
  assert.deepEqual([...full.entities.keys()], [7]);
});

test('a buffer refuses a delta whose baseline it does not hold', () => {
  const buffer = new SnapshotBuffer(2);
  buffer.receive(snapshot(1, null, { changed: [[1, rock(1, 1, 0)]] }));
  buffer.receive(snapshot(2, 1, {}));
  buffer.receive(snapshot(3, 2, {}));
  assert.throws(() => buffer.receive(snapshot(4, 1, {})), MissingBaseline);
  assert.equal(buffer.latest().tick, 3);
});

test('a late snapshot never displaces the newest state', () => {
  const buffer = new SnapshotBuffer(4);
  buffer.receive(snapshot(1, null, { changed: [[1, rock(1, 1, 0)]] }));
  for (const tick of [2, 3, 4]) buffer.receive(snapshot(tick, tick - 1, {}));
  // Tick 3 again, with the buffer full.
  buffer.receive(snapshot(3, 2, {}));
  assert.equal(buffer.latest().tick, 4);
  buffer.receive(snapshot(5, 4, {}));
  assert.equal(buffer.latest().tick, 5);
});

test('ticks compare across wraparound', () => {
  assert.equal(tickSince(1, 2 ** 32 - 2), 3);
  assert.equal(tickSince(2 ** 32 - 2, 1), -3);
});

test('thrust is capped, coasting slows, turning follows the stick', () => {
  const m = { x: 0, y: 0, vx: 0, vy: 0, angle: 0 };
  for (let i = 0; i < 300; i += 1) steer(m, 0, true, 1 / 30);
  assert.ok(Math.abs(Math.hypot(m.vx, m.vy) - MAX_SHIP_SPEED) < 1e-6);
  const before = Math.hypot(m.vx, m.vy);
  steer(m, 0, false, 1 / 30);
  assert.ok(Math.hypot(m.vx, m.vy) < before);
  const t = { x: 0, y: 0, vx: 0, vy: 0, angle: 0 };
  steer(t, -1, false, 0.5);
  assert.ok(Math.abs(t.angle - (Math.PI * 2 - 2)) < 1e-9);
  steer(t, 7, false, 0.5);
  assert.ok(Math.min(t.angle, Math.PI * 2 - t.angle) < 1e-9, 'clamped to full right');
});

test('the arena wraps, and offsets take the short way', () => {
  assert.deepEqual(wrap(-1, 1201), { x: 1599, y: 1 });
  assert.deepEqual(offset({ x: 1590, y: 10 }, { x: 10, y: 1190 }), { x: 20, y: -20 });
  const m = { x: 1599, y: 600, vx: 60, vy: 0, angle: 0 };
  drift(m, 1 / 30);
  assert.ok(Math.abs(m.x - 1) < 1e-9);
});

test('reconciliation keeps only unechoed inputs and replays them on the snapshot', () => {
  const p = new Predictor();
  p.reconcile({ x: 100, y: 100, vx: 0, vy: 0, angle: 0 }, 0, true, 1 / 30);
  for (let seq = 1; seq <= 4; seq += 1) p.step({ seq, turn: 0, thrust: true }, 1 / 30);
  const server = { x: 100.5, y: 100, vx: 21.3, vy: 0, angle: 0 };
  const m = p.reconcile(server, 2, true, 1 / 30);
  assert.deepEqual(p.pending.map((i) => i.seq), [3, 4]);
  const expected = { ...server };
  for (let i = 0; i < 2; i += 1) {
    steer(expected, 0, true, 1 / 30);
    drift(expected, 1 / 30);
  }
  assert.deepEqual(m, expected);
  // A destroyed ship (inactive) is shown where the server has it.
  assert.deepEqual(p.reconcile(server, 2, false, 1 / 30), server);
});
