// Arena snapshots: rebuilding the server's quantised state from full and
// delta snapshots. A faithful mirror of shared/src/snapshot.rs (and of
// shared/src/bits.rs); when the Rust files change their encoding, this file
// changes with them.
//
// Precision on the wire (all integers):
// - positions: 1/32 of an arena unit (x in [0, 51200), y in [0, 38400));
// - velocities: 1/4 of a unit per second, i16;
// - angles: 2π/65,536 radians, u16.
// A ship also carries its rates: how much its velocity (`ax`, `ay`) and
// heading (`spin`) changed over its last tick, in the same steps.
//
// A delta names its `baseline`, a tick the client acknowledged. Entities
// new or changed in more than their motion come in full (`changed`), those
// gone as `removed` ids, and `motion` holds bit-packed corrections for the
// entities whose motion differs from its prediction; every other entity of
// the baseline moved exactly as predicted. Over `n` ticks, per axis:
// - rates: the baseline's, plus the correction `da` (`dspin`);
// - velocity: v + a' + floor((n - 1)(a + a') / 2), then + dv (the heading
//   the same with spin, modulo 65,536);
// - position: p + round(((n - 1) v + (n + 1) v') * 8 / (2 hz)), then + dx,
//   wrapped into the arena; round(a / b) is floor((2a + b) / 2b);
// - a ship's flags: the baseline's + dflags.
// Rocks and bullets have no rates, heading or flags (0). `motion` is Exp-Golomb
// coded, most significant bit first: the count of corrected entities; then
// for each, by increasing id, the gap to the previous id (id - previous - 1,
// the first from -1), and its signed corrections (zigzag), `dax day dvx dvy
// dx dy dspin dangle dflags` for a ship, `dvx dvy dx dy` otherwise. Both sides
// compute in integers, so applying a snapshot to its baseline gives exactly
// the server's state at that tick.
//
// JSON shape (serde): {"tick": 7, "baseline": 5 | null, "last_input": 3,
// "tick_hz": 30, "changed": [[id, {"ship": {...}}], ...],
// "motion": [byte, ...], "removed": [id, ...]}. Entities are {"ship":
// {owner, body, angle, flags, lives, score, ax, ay, spin}}, {"rock": {body,
// size}} or {"bullet": {body, owner}}, and a body is {x, y, vx, vy}.

import { ARENA_WIDTH, ARENA_HEIGHT } from './predict.js';

/** Steps per arena unit of a quantised position. */
export const POSITION_STEPS = 32;
/** Steps per unit per second of a quantised velocity. */
export const VELOCITY_STEPS = 4;
/** Steps per turn of a quantised angle. */
export const ANGLE_STEPS = 65536;

const WIDTH_STEPS = ARENA_WIDTH * POSITION_STEPS;
const HEIGHT_STEPS = ARENA_HEIGHT * POSITION_STEPS;

/** Ship flags. */
export const THRUSTING = 1;
export const INVULNERABLE = 2;
export const DESTROYED = 4;

// Rust's i64 `div_euclid` and `rem_euclid`. Every operand here stays far
// below 2^53, so doubles hold them exactly.
const divEuclid = (a, b) => {
  const q = Math.trunc(a / b);
  return a % b < 0 ? (b > 0 ? q - 1 : q + 1) : q;
};
const remEuclid = (a, b) => {
  const r = a % b;
  return r < 0 ? r + Math.abs(b) : r;
};
const clampI16 = (v) => Math.max(-32768, Math.min(32767, v));

/** Signed ticks from `earlier` to `tick`, across u32 wraparound
 *  (`Tick::since`). */
export const tickSince = (tick, earlier) => (tick - earlier) | 0;

/** A quantised angle in radians (`angle_of`). */
export const angleOf = (quantized) => (quantized / ANGLE_STEPS) * Math.PI * 2;

/** A body's position and velocity in arena units (`Body::pos`, `Body::vel`). */
export const bodyPos = (body) => ({ x: body.x / POSITION_STEPS, y: body.y / POSITION_STEPS });
export const bodyVel = (body) => ({ x: body.vx / VELOCITY_STEPS, y: body.vy / VELOCITY_STEPS });

/** The entity's kind and state: `["ship", {...}]`. */
export const entityKind = (entity) => Object.entries(entity)[0];

/** Reads Exp-Golomb codes from bytes (`bits::BitReader`); throws when the
 *  bytes end in the middle of a code. */
class BitReader {
  constructor(bytes) {
    this.bytes = bytes;
    this.at = 0;
  }

  bit() {
    const byte = this.bytes[this.at >> 3];
    if (byte === undefined) throw new RangeError('motion bits end in the middle of a number');
    const bit = (byte >> (7 - (this.at & 7))) & 1;
    this.at += 1;
    return bit;
  }

  unsigned() {
    let zeros = 0;
    while (this.bit() === 0) {
      zeros += 1;
      if (zeros > 64) throw new RangeError('not a number');
    }
    // Doubles hold every value a real server sends exactly.
    let m = 1;
    for (let i = 0; i < zeros; i += 1) m = m * 2 + this.bit();
    return m - 1;
  }

  signed() {
    const z = this.unsigned();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
}

const SHIP_FIELDS = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const BODY_FIELDS = [2, 3, 4, 5];
const clampRate = clampI16;

/** An entity's motion in steps (`EntityState::kin`). */
function kinOf(entity) {
  const [kind, state] = entityKind(entity);
  const { x, y, vx, vy } = state.body;
  if (kind !== 'ship') return { x, y, vx, vy, ax: 0, ay: 0, angle: 0, spin: 0, flags: 0 };
  const { ax, ay, angle, spin, flags } = state;
  return { x, y, vx, vy, ax, ay, angle, spin, flags };
}

/** The same entity with another motion; only ships have a heading, rates
 *  and flags (`EntityState::with_kin`). */
function withKin(entity, kin) {
  const [kind, state] = entityKind(entity);
  const body = {
    x: remEuclid(kin.x, WIDTH_STEPS),
    y: remEuclid(kin.y, HEIGHT_STEPS),
    vx: clampI16(kin.vx),
    vy: clampI16(kin.vy),
  };
  const next = { ...state, body };
  if (kind === 'ship') {
    next.ax = clampI16(kin.ax);
    next.ay = clampI16(kin.ay);
    next.angle = remEuclid(kin.angle, ANGLE_STEPS);
    next.spin = clampI16(kin.spin);
    next.flags = Math.max(0, Math.min(255, kin.flags));
  }
  return { [kind]: next };
}

/** A velocity (or heading) after `n` ticks whose rate went from `a` to
 *  `a2` (`predict_velocity`). */
const predictVelocity = (v, a, a2, n) => v + a2 + divEuclid((n - 1) * (a + a2), 2);

/** A position after `n` ticks at velocities going from `v` to `v2`
 *  (`predict_position`): 8 position steps per velocity step per second. */
function predictPosition(p, v, v2, n, hz) {
  const num = ((n - 1) * v + (n + 1) * v2) * (POSITION_STEPS / VELOCITY_STEPS);
  const den = 2 * Math.max(hz, 1);
  return p + divEuclid(2 * num + den, 2 * den);
}

/** The prediction from `old`'s motion with corrections `c` applied
 *  (`corrected`). */
function corrected(old, c, n, hz) {
  const [dax, day, dvx, dvy, dx, dy, dspin, dangle, dflags] = c;
  const ax = clampRate(old.ax + dax);
  const ay = clampRate(old.ay + day);
  const spin = clampRate(old.spin + dspin);
  const vx = clampI16(predictVelocity(old.vx, old.ax, ax, n) + dvx);
  const vy = clampI16(predictVelocity(old.vy, old.ay, ay, n) + dvy);
  return {
    x: predictPosition(old.x, old.vx, vx, n, hz) + dx,
    y: predictPosition(old.y, old.vy, vy, n, hz) + dy,
    vx,
    vy,
    ax,
    ay,
    angle: predictVelocity(old.angle, old.spin, spin, n) + dangle,
    spin,
    flags: old.flags + dflags,
  };
}

/** The corrections packed in `motion` for entities of `entities`, by id;
 *  reading stops at the first malformed one (`snapshot_corrections`). */
function readCorrections(motion, entities) {
  const out = new Map();
  const bits = new BitReader(motion);
  try {
    const count = Math.min(bits.unsigned(), entities.size);
    let previous = -1;
    for (let i = 0; i < count; i += 1) {
      const id = previous + bits.unsigned() + 1;
      previous = id;
      const entity = entities.get(id);
      if (!entity) break;
      const c = [0, 0, 0, 0, 0, 0, 0, 0, 0];
      const fields = entity.ship ? SHIP_FIELDS : BODY_FIELDS;
      for (const field of fields) {
        c[field] = Math.max(-(2 ** 40), Math.min(2 ** 40, bits.signed()));
      }
      out.set(id, c);
    }
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    // Only a broken peer sends bits that end too soon: the rest is ignored.
  }
  return out;
}

/** The state a snapshot describes, given its baseline's state (ignored for
 *  a full snapshot): `ArenaState::apply`. A state is
 *  `{tickHz, entities: Map<id, entity>}`. */
export function applySnapshot(baseline, snapshot) {
  let entities;
  let ticks;
  if (snapshot.baseline !== null && baseline) {
    entities = new Map(baseline.entities);
    ticks = tickSince(snapshot.tick, snapshot.baseline);
  } else {
    entities = new Map();
    ticks = 0;
  }
  for (const id of snapshot.removed) entities.delete(id);
  if (ticks > 0) {
    const corrections = readCorrections(snapshot.motion, entities);
    const none = [0, 0, 0, 0, 0, 0, 0, 0, 0];
    for (const [id, entity] of entities) {
      const c = corrections.get(id) ?? none;
      entities.set(id, withKin(entity, corrected(kinOf(entity), c, ticks, snapshot.tick_hz)));
    }
  }
  for (const [id, entity] of snapshot.changed) entities.set(id, entity);
  // Kept in increasing id order, like the server's BTreeMap.
  const sorted = new Map([...entities].sort((a, b) => a[0] - b[0]));
  return { tickHz: snapshot.tick_hz, entities: sorted };
}

/** A delta snapshot's baseline is not one the receiver holds. */
export class MissingBaseline extends Error {
  constructor(tick, baseline) {
    super(`snapshot ${tick} is a delta against ${baseline}, which is not held`);
    this.tick = tick;
    this.baseline = baseline;
  }
}

/** The states rebuilt from recent snapshots, so that the next delta can be
 *  applied and the newest acknowledged (`SnapshotBuffer`). */
export class SnapshotBuffer {
  constructor(capacity) {
    this.capacity = Math.max(capacity, 1);
    /** `[tick, state]`, oldest first; the newest is last. */
    this.states = [];
  }

  /** Rebuilds a snapshot's state and keeps it; throws MissingBaseline when
   *  its baseline is not held. Older snapshots than the newest held are
   *  rebuilt but do not become the newest. */
  receive(snapshot) {
    let baseline = null;
    if (snapshot.baseline !== null) {
      const held = this.states.find(([tick]) => tick === snapshot.baseline);
      if (!held) throw new MissingBaseline(snapshot.tick, snapshot.baseline);
      baseline = held[1];
    }
    const state = applySnapshot(baseline, snapshot);
    const newest = this.latest();
    if (newest && tickSince(snapshot.tick, newest.tick) <= 0) {
      // The newest stays the newest (it is the acknowledged baseline): a
      // full buffer gives up its oldest state for the late one.
      if (this.states.length === this.capacity) this.states.shift();
      this.states.unshift([snapshot.tick, state]);
      return state;
    }
    if (this.states.length === this.capacity) this.states.shift();
    this.states.push([snapshot.tick, state]);
    return state;
  }

  /** The newest state held, as `{tick, state}`. */
  latest() {
    const last = this.states[this.states.length - 1];
    return last ? { tick: last[0], state: last[1] } : null;
  }

  clear() {
    this.states = [];
  }
}
