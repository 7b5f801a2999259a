// Arena snapshots: rebuilding the server's quantised state from full and
// delta snapshots. A faithful mirror of shared/src/snapshot.rs; when the
// Rust file changes its encoding, this file changes with it.
//
// Precision on the wire (all integers):
// - positions: 1/32 of an arena unit (x in [0, 51200), y in [0, 38400));
// - velocities: 1/16 of a unit per second, i16;
// - angles: 2π/65,536 radians, u16.
//
// A delta names its `baseline`, a tick the client acknowledged. Entities
// new or changed in more than their motion come in full (`changed`), those
// that only moved as a `moved` correction, and those gone as `removed` ids.
// A correction is taken against a prediction: the new velocity as a
// difference from the old, the new position as a difference from where the
// old position would be after moving at the average of both velocities for
// the ticks in between. Both sides compute it in integers, so applying a
// snapshot to its baseline gives exactly the server's state at that tick.
//
// JSON shape (serde): {"tick": 7, "baseline": 5 | null, "last_input": 3,
// "tick_hz": 30, "changed": [[id, {"ship": {...}}], ...],
// "moved": [[id, {"dvx", "dvy", "dx", "dy", "dangle"}], ...],
// "removed": [id, ...]}. Entities are {"ship": {owner, body, angle, flags,
// lives, score}}, {"rock": {body, size}} or {"bullet": {body, owner}}, and
// a body is {x, y, vx, vy}.

import { ARENA_WIDTH, ARENA_HEIGHT } from './predict.js';

/** Steps per arena unit of a quantised position. */
export const POSITION_STEPS = 32;
/** Steps per unit per second of a quantised velocity. */
export const VELOCITY_STEPS = 16;
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
const bodyOf = (entity) => entityKind(entity)[1].body;
const angleOfEntity = (entity) => entity.ship?.angle ?? 0;

/** The same entity with another motion; only ships have an angle
 *  (`EntityState::moved_to`). */
function movedTo(entity, body, angle) {
  const [kind, state] = entityKind(entity);
  const next = { ...state, body };
  if (kind === 'ship') next.angle = angle;
  return { [kind]: next };
}

/** Where a coordinate would be after `ticks` ticks at the average of two
 *  velocities, wrapped into the arena (`predict`). Position steps are twice
 *  as fine as velocity steps, hence `(v0 + v1) / 2 * 2`. */
function predict(pos, v0, v1, ticks, tickHz, size) {
  const travel = divEuclid((v0 + v1) * ticks, Math.max(tickHz, 1));
  return remEuclid(pos + travel, size);
}

/** Applies a `moved` correction to the baseline's entity (`Moved::apply`). */
function applyMoved(moved, old, ticks, tickHz) {
  const a = bodyOf(old);
  // Out-of-range corrections come only from a broken peer; they saturate
  // or wrap, as on the server.
  const vx = clampI16(a.vx + moved.dvx);
  const vy = clampI16(a.vy + moved.dvy);
  const x = predict(a.x, a.vx, vx, ticks, tickHz, WIDTH_STEPS) + moved.dx;
  const y = predict(a.y, a.vy, vy, ticks, tickHz, HEIGHT_STEPS) + moved.dy;
  const body = { x: remEuclid(x, WIDTH_STEPS), y: remEuclid(y, HEIGHT_STEPS), vx, vy };
  const angle = remEuclid(angleOfEntity(old) + moved.dangle, 65536);
  return movedTo(old, body, angle);
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
  for (const [id, moved] of snapshot.moved) {
    // A correction for an entity the baseline lacks comes only from a
    // broken peer, and is skipped.
    const old = entities.get(id);
    if (old) entities.set(id, applyMoved(moved, old, ticks, snapshot.tick_hz));
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
      this.states.unshift([snapshot.tick, state]);
      this.states.length = Math.min(this.states.length, this.capacity);
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
