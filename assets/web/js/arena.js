// The Asteroids view: rebuilds snapshots, acknowledges them, draws the
// arena on a canvas with interpolation between snapshots, samples the
// keyboard at the room's tick rate, and predicts the player's own ship so
// that it answers the keys at once instead of a round trip later.

import * as proto from './protocol.js';
import { $, byTestId, h, clock } from './dom.js';
import { colorOf } from './side.js';
import {
  ARENA_WIDTH as W, LIVES, ROCK_RADIUS, SHIP_RADIUS, Predictor, offset, wrap,
} from './predict.js';
import {
  SnapshotBuffer, MissingBaseline, DESTROYED, THRUSTING,
  bodyPos, bodyVel, angleOf, entityKind, tickSince,
} from './snapshot.js';
import {
  background, drawBanner, drawBullet, drawEffects, drawRock, drawShip, lerpAngle,
} from './render.js';

/** States kept for deltas: as many as the server's history (32 ticks). */
const BUFFER = 32;
/** How far behind the newest snapshot other bodies are drawn, in ticks:
 *  enough to always have a snapshot on either side. */
const INTERP_TICKS = 2;
/** Seconds over which a correction of the own ship's prediction fades. */
const SMOOTH_SECS = 0.12;
/** Arena units around a body within which the standings box counts as
 *  covering it; a ship's name label hangs below it. */
const COVER_MARGIN = 12;
const SHIP_COVER = SHIP_RADIUS * 2.8;

const KEYS = {
  ArrowLeft: 'left', KeyA: 'left', ArrowRight: 'right', KeyD: 'right',
  ArrowUp: 'thrust', KeyW: 'thrust', Space: 'fire',
};

export class ArenaView {
  /** @param {object} ctx `send(msg)`, `me()`, `isSpectator()`, `nickname(session)`. */
  constructor(ctx) {
    this.ctx = ctx;
    this.canvas = byTestId('arena-canvas');
    this.g = this.canvas.getContext('2d');
    this.held = new Set();
    this.buffer = new SnapshotBuffer(BUFFER);
    this.predictor = new Predictor();
    this.timeline = [];
    this.fx = { particles: [], floaters: [] };
    this.banner = null;
    this.running = false;
    this.stats = { snapshots: 0, deltas: 0, unusable: 0, inputs: 0, acks: 0 };
    window.addEventListener('keydown', (e) => this.key(e, true));
    window.addEventListener('keyup', (e) => this.key(e, false));
    window.addEventListener('blur', () => this.held.clear());
    new ResizeObserver(() => this.resize()).observe(this.canvas);
  }

  /** Entering an arena room in `roomState`. */
  enter(roomState) {
    this.buffer.clear();
    this.predictor.reset();
    this.timeline = [];
    this.fx = { particles: [], floaters: [] };
    this.banner = null;
    this.seq = 0;
    this.tickHz = 30;
    this.roomState = roomState;
    this.matchEndsAt = null;
    this.standings = null;
    this.correction = { x: 0, y: 0 };
    this.timeOffset = null;
    this.showOverlay('Waiting for the arena…', 'Snapshots start as soon as the room runs.');
    this.running = true;
    $('.keys').hidden = this.ctx.isSpectator();
    this.restartInputs();
    cancelAnimationFrame(this.raf);
    this.raf = requestAnimationFrame((t) => this.frame(t));
  }

  leave() {
    this.running = false;
    clearInterval(this.inputTimer);
    cancelAnimationFrame(this.raf);
    this.held.clear();
  }

  /** The connection came back: old baselines are useless to the server. */
  reconnected() {
    this.buffer.clear();
    this.predictor.reset();
  }

  setRoomState(state) {
    this.roomState = state;
  }

  key(e, down) {
    const action = KEYS[e.code];
    if (!action || !this.running) return;
    const t = e.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return;
    e.preventDefault();
    if (down) this.held.add(action);
    else this.held.delete(action);
  }

  /** One input per tick at the room's rate: steady, whether keys change or not. */
  restartInputs() {
    clearInterval(this.inputTimer);
    if (this.ctx.isSpectator()) return;
    const hz = this.tickHz;
    this.inputTimer = setInterval(() => this.sendInput(), 1000 / hz);
  }

  sendInput() {
    const turn = (this.held.has('right') ? 1 : 0) - (this.held.has('left') ? 1 : 0);
    const input = { seq: (this.seq = (this.seq + 1) >>> 0), turn, thrust: this.held.has('thrust'), fire: this.held.has('fire') };
    if (!this.ctx.send(proto.input(input.seq, input.turn, input.thrust, input.fire))) return;
    this.stats.inputs += 1;
    this.predictor.step(input, 1 / this.tickHz);
    this.lastLocalStep = performance.now();
  }

  onSnapshot(snap) {
    let state;
    try {
      state = this.buffer.receive(snap);
    } catch (err) {
      if (err instanceof MissingBaseline) {
        this.stats.unusable += 1;
        return;
      }
      throw err;
    }
    this.stats.snapshots += 1;
    if (snap.baseline !== null) this.stats.deltas += 1;
    const now = performance.now();
    if (snap.tick_hz !== this.tickHz) {
      this.tickHz = snap.tick_hz;
      this.restartInputs();
    }
    // Only the newest state moves the timeline; an older one is usable as
    // a baseline but too late to draw.
    const newest = this.timeline[this.timeline.length - 1];
    if (!newest || tickSince(snap.tick, newest.tick) > 0) {
      this.timeline.push({ tick: snap.tick, state, at: now });
      if (this.timeline.length > 12) this.timeline.shift();
      this.syncClock(snap.tick, now);
    }
    if (!this.ctx.isSpectator()) {
      this.ctx.send(proto.ack(snap.tick));
      this.stats.acks += 1;
      this.reconcile(state, snap.last_input);
    }
    if (this.overlayKind === 'waiting') this.hideOverlay();
    this.renderPlayers(state);
  }

  /** Maps ticks to local time from the earliest-arriving snapshots, so that
   *  a late one does not push the whole picture back. */
  syncClock(tick, now) {
    const period = 1000 / this.tickHz;
    const sample = now - tick * period;
    if (this.timeOffset === null || sample < this.timeOffset) this.timeOffset = sample;
    else this.timeOffset += (sample - this.timeOffset) * 0.02;
  }

  ownShip(state) {
    const me = this.ctx.me();
    for (const [id, e] of state.entities) {
      if (e.ship && e.ship.owner === me) return { id, ship: e.ship };
    }
    return null;
  }

  reconcile(state, lastInput) {
    const own = this.ownShip(state);
    if (!own) {
      this.predictor.reset();
      return;
    }
    const { ship } = own;
    const p = bodyPos(ship.body);
    const v = bodyVel(ship.body);
    const motion = { x: p.x, y: p.y, vx: v.x, vy: v.y, angle: angleOf(ship.angle) };
    const active = this.roomState === 'running' && !(ship.flags & DESTROYED);
    const before = this.predictor.motion;
    const after = this.predictor.reconcile(motion, lastInput, active, 1 / this.tickHz);
    // A small correction fades in; a jump (respawn, wrap) is taken at once.
    if (before) {
      const d = offset(after, before);
      if (Math.hypot(d.x, d.y) < 60) {
        this.correction.x += d.x;
        this.correction.y += d.y;
      } else {
        this.correction = { x: 0, y: 0 };
      }
    }
    this.lastLocalStep = performance.now();
  }

  /** Where the running match stands, for a page that missed its start
   *  (or, resuming, got it replayed with its full length). */
  onProgress(p) {
    this.matchEndsAt = performance.now() + p.left_ms;
  }

  onEvent(ev) {
    const [name, body] = proto.variant(ev);
    const latest = this.buffer.latest()?.state;
    switch (name) {
      case 'match_started':
        this.matchEndsAt = performance.now() + body.match_secs * 1000;
        this.standings = null;
        this.hideOverlay();
        this.banner = { text: `Match ${body.number}`, sub: 'Shoot rocks · dodge bullets', until: performance.now() + 2200 };
        break;
      case 'wave_started':
        this.banner = { text: `Wave ${body.wave}`, sub: `${body.rocks} large rocks incoming`, until: performance.now() + 2000 };
        break;
      case 'ship_destroyed': {
        const ship = latest && [...latest.entities.values()].find((e) => e.ship?.owner === body.session);
        if (ship) this.burst(bodyPos(ship.ship.body), colorOf(body.session), 40);
        break;
      }
      case 'rock_destroyed': {
        const rock = latest?.entities.get(body.id);
        if (rock) this.burst(bodyPos(rock.rock.body), '#c9c3e8', body.size === 'large' ? 30 : 18);
        break;
      }
      case 'player_scored': {
        const ship = latest && [...latest.entities.values()].find((e) => e.ship?.owner === body.session);
        if (ship) {
          const p = bodyPos(ship.ship.body);
          this.fx.floaters.push({ x: p.x, y: p.y - 30, text: `+${body.points}`, color: colorOf(body.session), born: performance.now() });
        }
        break;
      }
      case 'match_over':
        this.matchEndsAt = null;
        this.standings = body.standings;
        this.showStandings(body.standings);
        break;
      default:
        break;
    }
  }

  burst(p, color, n) {
    for (let i = 0; i < n; i += 1) {
      const a = Math.random() * Math.PI * 2;
      const s = 40 + Math.random() * 220;
      this.fx.particles.push({ x: p.x, y: p.y, vx: Math.cos(a) * s, vy: Math.sin(a) * s, life: 0.5 + Math.random() * 0.6, age: 0, color });
    }
  }

  showOverlay(title, text, kind = 'waiting') {
    const el = $('#arena-overlay');
    el.replaceChildren(h('div', {}, h('h2', {}, title), h('p.hint', {}, text)));
    el.hidden = false;
    this.overlayKind = kind;
  }

  showStandings(standings) {
    const me = this.ctx.me();
    const el = $('#arena-overlay');
    const rows = standings.map((s, i) =>
      h('li', { class: s.session === me ? 'me' : '' },
        h('span.medal', {}, String(i + 1)),
        h('span.name', {}, s.nickname, s.session === me ? ' (you)' : ''),
        h('span.score', {}, String(s.score))));
    el.replaceChildren(h('div.card.final', {}, h('h2', {}, 'Match over'), h('ol.podium', { testid: 'arena-standings' }, rows),
      h('p.hint', {}, 'The next match starts in a few seconds.')));
    el.hidden = false;
    this.overlayKind = 'standings';
  }

  hideOverlay() {
    $('#arena-overlay').hidden = true;
    this.overlayKind = null;
  }

  renderPlayers(state) {
    const me = this.ctx.me();
    const ships = [...state.entities.values()].filter((e) => e.ship).map((e) => e.ship);
    ships.sort((a, b) => b.score - a.score || a.owner - b.owner);
    const key = ships.map((s) => `${s.owner}:${s.score}:${s.lives}:${s.flags & DESTROYED}`).join(',');
    if (key === this.playersKey) return;
    this.playersKey = key;
    const items = ships.map((s, i) =>
      h('li', { class: `${s.owner === me ? 'me' : ''} ${s.lives === 0 ? 'out' : ''}`, dataset: { session: s.owner, score: s.score, lives: s.lives } },
        h('span.rank', {}, String(i + 1)),
        h('span', {}, h('span.swatch', { style: `display:inline-block;background:${colorOf(s.owner)};margin-right:8px;vertical-align:-2px` }),
          this.ctx.nickname(s.owner)),
        h('span.lives', {}, '♥'.repeat(s.lives) + '♡'.repeat(Math.max(0, LIVES - s.lives))),
        h('span.score', {}, String(s.score))));
    byTestId('arena-players').replaceChildren(...items);
    const mine = ships.find((s) => s.owner === me);
    $('#arena-me').replaceChildren(...(mine
      ? [h('span', {}, `Score ${mine.score}`), h('span.lives', {}, '♥'.repeat(mine.lives) || 'out')]
      : [h('span', {}, this.ctx.isSpectator() ? 'Spectating: no inputs are sent' : 'Waiting for your ship…')]));
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(this.canvas.clientWidth * dpr);
    const hgt = Math.round(this.canvas.clientHeight * dpr);
    if (w && hgt && (this.canvas.width !== w || this.canvas.height !== hgt)) {
      this.canvas.width = w;
      this.canvas.height = hgt;
      this.background = null;
    }
  }

  /** The two states around the render time, `INTERP_TICKS` behind the
   *  newest snapshot's time, and how far between them it is. */
  interpolated(now) {
    const tl = this.timeline;
    if (!tl.length) return null;
    const newest = tl[tl.length - 1];
    const period = 1000 / this.tickHz;
    // Ticks relative to the newest, so that wraparound does not matter.
    const rel = (e) => tickSince(e.tick, newest.tick);
    const at = Math.min(0, (now - this.timeOffset) / period - INTERP_TICKS - newest.tick);
    if (tl.length === 1 || at <= rel(tl[0])) return { a: tl[0].state, b: tl[0].state, t: 1 };
    let i = 0;
    while (i < tl.length - 2 && rel(tl[i + 1]) < at) i += 1;
    const [a, b] = [tl[i], tl[i + 1]];
    const span = rel(b) - rel(a);
    const t = span > 0 ? Math.max(0, Math.min(1, (at - rel(a)) / span)) : 1;
    return { a: a.state, b: b.state, t };
  }

  frame(now) {
    if (!this.running) return;
    this.raf = requestAnimationFrame((t) => this.frame(t));
    const dt = Math.min(0.05, (now - (this.lastFrame ?? now)) / 1000);
    this.lastFrame = now;
    this.resize();
    const g = this.g;
    const scale = this.canvas.width / W;
    g.setTransform(1, 0, 0, 1, 0, 0);
    if (!this.background) this.background = background(this.canvas.width, this.canvas.height);
    g.drawImage(this.background, 0, 0);
    g.setTransform(scale, 0, 0, scale, 0, 0);
    const view = this.interpolated(now);
    const drawn = view ? this.drawWorld(g, view, now, dt) : [];
    this.uncover(drawn);
    drawEffects(g, this.fx, dt, now);
    if (this.banner) drawBanner(g, this.banner, now);
    const clockEl = $('#arena-clock');
    clockEl.textContent = this.matchEndsAt ? clock((this.matchEndsAt - now) / 1000) : '';
  }

  /** Fades the standings box over the canvas whenever something in play
   *  is beneath it, most of all the player's own ship, so that it never
   *  hides the game. `drawn` holds `{x, y, r, own}` in arena units. */
  uncover(drawn) {
    const el = byTestId('arena-players');
    let under = 'clear';
    if (el.childElementCount) {
      const unit = this.canvas.clientWidth / W;
      const x0 = el.offsetLeft / unit;
      const y0 = el.offsetTop / unit;
      const x1 = x0 + el.offsetWidth / unit;
      const y1 = y0 + el.offsetHeight / unit;
      for (const { x, y, r, own } of drawn) {
        const m = r + COVER_MARGIN;
        if (x + m > x0 && x - m < x1 && y + m > y0 && y - m < y1) {
          under = own ? 'own' : 'play';
          if (own) break;
        }
      }
    }
    if (el.dataset.under !== under) el.dataset.under = under;
  }

  /** Draws every body; returns where each was drawn, for `uncover`. */
  drawWorld(g, { a, b, t }, now, dt) {
    const me = this.ctx.me();
    const drawn = [];
    for (const [id, entity] of b.entities) {
      const [kind, s] = entityKind(entity);
      const old = a.entities.get(id);
      let p = bodyPos(s.body);
      let angle = s.angle !== undefined ? angleOf(s.angle) : 0;
      if (old) {
        const [, o] = entityKind(old);
        const op = bodyPos(o.body);
        const d = offset(op, p);
        p = wrap(op.x + d.x * t, op.y + d.y * t);
        if (kind === 'ship') angle = lerpAngle(angleOf(o.angle), angle, t);
      } else if (t < 0.5 && a !== b) {
        continue;
      }
      if (kind === 'rock') {
        drawRock(g, id, p, s.size);
        drawn.push({ ...p, r: ROCK_RADIUS[s.size] ?? 30, own: false });
      } else if (kind === 'bullet') {
        drawBullet(g, p, s.owner);
        drawn.push({ ...p, r: 3, own: false });
      } else if (kind === 'ship' && s.owner !== me) {
        drawShip(g, p, angle, s, this.ctx.nickname(s.owner), now);
        if (!(s.flags & DESTROYED)) drawn.push({ ...p, r: SHIP_COVER, own: false });
      }
    }
    // The own ship comes from the prediction, drawn on top.
    const latest = this.timeline[this.timeline.length - 1]?.state;
    const own = latest && this.ownShip(latest);
    if (own && !this.ctx.isSpectator()) {
      const m = this.predictor.motion;
      const fade = Math.exp(-dt / SMOOTH_SECS);
      this.correction.x *= fade;
      this.correction.y *= fade;
      let p;
      let angle;
      if (m) {
        const ahead = this.predictor.active ? Math.min(1 / this.tickHz, (now - this.lastLocalStep) / 1000) : 0;
        p = wrap(m.x + m.vx * ahead + this.correction.x, m.y + m.vy * ahead + this.correction.y);
        angle = m.angle;
      } else {
        p = bodyPos(own.ship.body);
        angle = angleOf(own.ship.angle);
      }
      const flags = (own.ship.flags & ~THRUSTING) | (this.predictor.active && this.held.has('thrust') ? THRUSTING : 0);
      drawShip(g, p, angle, { ...own.ship, flags }, 'you', now, true);
      if (!(flags & DESTROYED)) drawn.push({ ...p, r: SHIP_COVER, own: true });
    }
    return drawn;
  }

  /** The ticks whose rebuilt states are held. */
  heldTicks() {
    return this.buffer.states.map(([tick]) => tick);
  }

  /** The rebuilt state of `tick` as `[id, entity]` pairs, if held. */
  stateAt(tick) {
    const held = this.buffer.states.find(([t]) => t === tick);
    return held ? [...held[1].entities] : null;
  }

  /** What tests and the curious read: counts and the own ship as the
   *  server last sent it. */
  debug() {
    const latest = this.buffer.latest();
    const own = latest && this.ownShip(latest.state);
    return {
      ...this.stats,
      tick: latest?.tick ?? null,
      entities: latest ? latest.state.entities.size : 0,
      ships: latest ? [...latest.state.entities.values()].filter((e) => e.ship).length : 0,
      ownShip: own ? { ...bodyPos(own.ship.body), flags: own.ship.flags } : null,
      pendingInputs: this.predictor.pending.length,
    };
  }
}
