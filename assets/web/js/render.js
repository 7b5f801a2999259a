// Drawing the arena on a canvas: the starry background, ships, rocks,
// bullets, sparks and banners, in arena units (the caller scales the
// context to the canvas). Whatever wraps is drawn again across the edges
// it overlaps, so that nothing pops from one side to the other.

import { ARENA_WIDTH as W, ARENA_HEIGHT as H, SHIP_RADIUS, ROCK_RADIUS } from './predict.js';
import { DESTROYED, INVULNERABLE, THRUSTING } from './snapshot.js';
import { colorOf } from './side.js';

/** The background for a canvas of `width` x `height` pixels; the caller
 *  keeps it until the canvas changes size. */
export function background(width, height) {
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  const b = c.getContext('2d');
  const s = c.width / W;
  const grad = b.createRadialGradient(c.width * 0.5, c.height * 0.45, 0, c.width * 0.5, c.height * 0.5, c.width * 0.7);
  grad.addColorStop(0, '#0d1230');
  grad.addColorStop(1, '#04050c');
  b.fillStyle = grad;
  b.fillRect(0, 0, c.width, c.height);
  b.strokeStyle = '#ffffff08';
  b.lineWidth = 1;
  for (let x = 0; x <= W; x += 100) { b.beginPath(); b.moveTo(x * s, 0); b.lineTo(x * s, c.height); b.stroke(); }
  for (let y = 0; y <= H; y += 100) { b.beginPath(); b.moveTo(0, y * s); b.lineTo(c.width, y * s); b.stroke(); }
  for (const st of STARS) {
    b.fillStyle = `rgba(220,225,255,${st.a})`;
    b.beginPath();
    b.arc(st.x * s, st.y * s, st.r * s, 0, Math.PI * 2);
    b.fill();
  }
  return c;
}

/** Calls `draw(x, y)` at `p` and at its copies across the edges within `r`. */
function drawWrapped(p, r, draw) {
  const xs = [p.x];
  const ys = [p.y];
  if (p.x < r) xs.push(p.x + W);
  if (p.x > W - r) xs.push(p.x - W);
  if (p.y < r) ys.push(p.y + H);
  if (p.y > H - r) ys.push(p.y - H);
  for (const x of xs) for (const y of ys) draw(x, y);
}

/** A ship and its label; blinking while invulnerable, flaming while thrusting. */
export function drawShip(g, p, angle, ship, label, now, mine = false) {
  if (ship.flags & DESTROYED) return;
  const color = colorOf(ship.owner);
  const r = SHIP_RADIUS;
  const blink = ship.flags & INVULNERABLE ? 0.55 + 0.45 * Math.sin(now / 70) : 1;
  drawWrapped(p, r * 2, (x, y) => {
    g.save();
    g.translate(x, y);
    g.globalAlpha = blink;
    if (ship.flags & INVULNERABLE) {
      g.strokeStyle = `${color}`;
      g.globalAlpha = 0.35 * blink;
      g.lineWidth = 2;
      g.beginPath();
      g.arc(0, 0, r * 1.7, 0, Math.PI * 2);
      g.stroke();
      g.globalAlpha = blink;
    }
    g.rotate(angle);
    if (ship.flags & THRUSTING) {
      const len = r * (1.1 + Math.random() * 0.6);
      g.fillStyle = '#ffb347';
      g.shadowColor = '#ff7a18';
      g.shadowBlur = 18;
      g.beginPath();
      g.moveTo(-r * 0.55, -r * 0.38);
      g.lineTo(-r * 0.55 - len, 0);
      g.lineTo(-r * 0.55, r * 0.38);
      g.closePath();
      g.fill();
    }
    g.shadowColor = color;
    g.shadowBlur = mine ? 22 : 14;
    g.lineWidth = 2.5;
    g.strokeStyle = color;
    g.fillStyle = '#0b0e1a';
    g.beginPath();
    g.moveTo(r * 1.3, 0);
    g.lineTo(-r * 0.9, -r * 0.8);
    g.lineTo(-r * 0.5, 0);
    g.lineTo(-r * 0.9, r * 0.8);
    g.closePath();
    g.fill();
    g.stroke();
    g.restore();
    g.save();
    g.font = '600 15px system-ui, sans-serif';
    g.textAlign = 'center';
    g.fillStyle = mine ? '#ffffff' : '#ffffffaa';
    g.fillText(label, x, y + r * 2.6);
    g.restore();
  });
}

/** A lumpy rock, the same shape every frame for its id. */
export function drawRock(g, id, p, size) {
  const r = ROCK_RADIUS[size] ?? 30;
  const shape = rockShape(id);
  drawWrapped(p, r * 1.2, (x, y) => {
    g.save();
    g.translate(x, y);
    g.rotate((id % 7) * 0.9);
    g.beginPath();
    shape.forEach(([a, k], i) => {
      const px = Math.cos(a) * r * k;
      const py = Math.sin(a) * r * k;
      if (i === 0) g.moveTo(px, py);
      else g.lineTo(px, py);
    });
    g.closePath();
    const grad = g.createRadialGradient(-r * 0.3, -r * 0.3, r * 0.1, 0, 0, r * 1.1);
    grad.addColorStop(0, '#4b4f72');
    grad.addColorStop(1, '#23263f');
    g.fillStyle = grad;
    g.fill();
    g.lineWidth = 2;
    g.strokeStyle = '#a9a4d8';
    g.stroke();
    g.restore();
  });
}

/** A bullet, glowing in its owner's colour. */
export function drawBullet(g, p, owner) {
  const color = colorOf(owner);
  g.save();
  g.shadowColor = color;
  g.shadowBlur = 12;
  g.fillStyle = '#ffffff';
  g.beginPath();
  g.arc(p.x, p.y, 3.5, 0, Math.PI * 2);
  g.fill();
  g.restore();
}

/** The sparks and rising score labels of `fx` (`{particles, floaters}`),
 *  aged by `dt` seconds; spent ones are dropped. */
export function drawEffects(g, fx, dt, now) {
  const sparks = fx.particles.filter((q) => (q.age += dt) < q.life);
  for (const q of sparks) {
    q.x += q.vx * dt;
    q.y += q.vy * dt;
    g.globalAlpha = 1 - q.age / q.life;
    g.fillStyle = q.color;
    g.fillRect(q.x - 2, q.y - 2, 4, 4);
  }
  g.globalAlpha = 1;
  const floaters = fx.floaters.filter((f) => now - f.born < 1000);
  g.save();
  g.font = '800 22px system-ui, sans-serif';
  g.textAlign = 'center';
  for (const f of floaters) {
    const k = (now - f.born) / 1000;
    g.globalAlpha = 1 - k;
    g.fillStyle = f.color;
    g.fillText(f.text, f.x, f.y - k * 40);
  }
  g.restore();
  fx.particles = sparks;
  fx.floaters = floaters;
}

/** A big centred title `b` (`{text, sub, until}`), fading out at its end. */
export function drawBanner(g, b, now) {
  if (!b || now > b.until) return;
  const left = (b.until - now) / 1000;
  g.save();
  g.globalAlpha = Math.min(1, left * 2);
  g.textAlign = 'center';
  g.fillStyle = '#ffffff';
  g.shadowColor = '#7c5cff';
  g.shadowBlur = 30;
  g.font = '800 84px system-ui, sans-serif';
  g.fillText(b.text, W / 2, H / 2 - 20);
  g.shadowBlur = 0;
  g.fillStyle = '#b9c0ee';
  g.font = '500 30px system-ui, sans-serif';
  g.fillText(b.sub, W / 2, H / 2 + 30);
  g.restore();
}

export function lerpAngle(a, b, t) {
  let d = b - a;
  if (d > Math.PI) d -= Math.PI * 2;
  if (d < -Math.PI) d += Math.PI * 2;
  return a + d * t;
}

const shapes = new Map();
/** A lumpy outline per rock id, the same every frame. */
function rockShape(id) {
  let shape = shapes.get(id);
  if (!shape) {
    let seed = (id * 2654435761) >>> 0;
    const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
    const n = 9 + Math.floor(rand() * 4);
    shape = Array.from({ length: n }, (_, i) => [(i / n) * Math.PI * 2, 0.78 + rand() * 0.3]);
    shapes.set(id, shape);
    if (shapes.size > 2000) shapes.clear();
  }
  return shape;
}

function makeStars() {
  let seed = 7;
  const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
  return Array.from({ length: 220 }, () => ({ x: rand() * W, y: rand() * H, r: 0.6 + rand() * 1.6, a: 0.15 + rand() * 0.6 }));
}

const STARS = makeStars();
