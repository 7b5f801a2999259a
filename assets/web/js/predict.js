// The ship movement rules of shared/src/asteroids.rs, for predicting the
// player's own ship between snapshots, and the reconciliation that replays
// unacknowledged inputs on top of each snapshot.
//
// The server steps in f32 and this page in f64, so a prediction may drift
// by a fraction of a quantum per tick; each snapshot resets the prediction
// to the server's state, and the replay of the few inputs since is short.

export const ARENA_WIDTH = 1600;
export const ARENA_HEIGHT = 1200;
export const SHIP_RADIUS = 16;
/** Radians per second at full stick. */
export const TURN_RATE = 4;
/** Units per second squared while thrusting. */
export const THRUST = 320;
/** Share of its speed a coasting ship loses per second. */
export const DRAG = 0.5;
export const MAX_SHIP_SPEED = 360;
export const BULLET_RADIUS = 3;
export const LIVES = 3;
export const ROCK_RADIUS = { small: 12, medium: 26, large: 48 };

const TAU = Math.PI * 2;

/** An angle brought into [0, 2π) (`wrap_angle`). */
export function wrapAngle(angle) {
  const a = ((angle % TAU) + TAU) % TAU;
  return a >= TAU ? 0 : a;
}

/** A point brought inside the arena (`wrap`). */
export function wrap(x, y) {
  const wx = ((x % ARENA_WIDTH) + ARENA_WIDTH) % ARENA_WIDTH;
  const wy = ((y % ARENA_HEIGHT) + ARENA_HEIGHT) % ARENA_HEIGHT;
  return { x: wx >= ARENA_WIDTH ? 0 : wx, y: wy >= ARENA_HEIGHT ? 0 : wy };
}

/** The shortest offset from `a` to `b` in the wrapping arena (`offset`). */
export function offset(a, b) {
  let dx = b.x - a.x;
  let dy = b.y - a.y;
  if (dx > ARENA_WIDTH / 2) dx -= ARENA_WIDTH;
  else if (dx < -ARENA_WIDTH / 2) dx += ARENA_WIDTH;
  if (dy > ARENA_HEIGHT / 2) dy -= ARENA_HEIGHT;
  else if (dy < -ARENA_HEIGHT / 2) dy += ARENA_HEIGHT;
  return { x: dx, y: dy };
}

/** One tick of a ship's controls: turn, thrust, drag, speed cap (`steer`).
 *  A motion is `{x, y, vx, vy, angle}`, changed in place. */
export function steer(m, turn, thrust, dt) {
  const t = Math.max(-1, Math.min(1, turn));
  m.angle = wrapAngle(m.angle + t * TURN_RATE * dt);
  if (thrust) {
    m.vx += Math.cos(m.angle) * THRUST * dt;
    m.vy += Math.sin(m.angle) * THRUST * dt;
  } else {
    const keep = Math.max(1 - DRAG * dt, 0);
    m.vx *= keep;
    m.vy *= keep;
  }
  const speed = Math.hypot(m.vx, m.vy);
  if (speed > MAX_SHIP_SPEED) {
    m.vx *= MAX_SHIP_SPEED / speed;
    m.vy *= MAX_SHIP_SPEED / speed;
  }
}

/** Moves a body by its velocity for one tick, wrapping (`drift`). */
export function drift(m, dt) {
  const p = wrap(m.x + m.vx * dt, m.y + m.vy * dt);
  m.x = p.x;
  m.y = p.y;
}

/** Predicts the player's own ship. Each local tick it takes one input,
 *  which is sent to the server and applied here at once; the server echoes
 *  in every snapshot the newest input sequence it applied (`last_input`),
 *  and the prediction restarts from the snapshot's ship with the inputs the
 *  server had not applied yet replayed on top, one tick each, in the order
 *  the server applies them (steer, then drift). */
export class Predictor {
  constructor() {
    /** Inputs sent and not yet echoed, oldest first. */
    this.pending = [];
    /** The predicted motion, or null before the first snapshot. */
    this.motion = null;
    /** Whether the ship moves at all (flying, match running). */
    this.active = false;
  }

  /** A new local tick with `input` (`{seq, turn, thrust}`) at `dt` seconds. */
  step(input, dt) {
    this.pending.push(input);
    // Bounded: a server that stops echoing must not grow this forever.
    if (this.pending.length > 240) this.pending.shift();
    if (this.motion && this.active) {
      steer(this.motion, input.turn, input.thrust, dt);
      drift(this.motion, dt);
    }
  }

  /** Restarts from the server's ship `motion` at a snapshot that echoes
   *  `lastInput`; returns the predicted motion. */
  reconcile(motion, lastInput, active, dt) {
    // Sequence numbers compare across wraparound, like ticks.
    this.pending = this.pending.filter((i) => ((i.seq - lastInput) | 0) > 0);
    this.active = active;
    const m = { ...motion };
    if (active) {
      for (const i of this.pending) {
        steer(m, i.turn, i.thrust, dt);
        drift(m, dt);
      }
    }
    this.motion = m;
    return m;
  }

  reset() {
    this.pending = [];
    this.motion = null;
  }
}
