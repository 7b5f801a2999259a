// The page's one WebSocket to the server: hello on open, a ping each few
// seconds for the round-trip time, and reconnection with exponential
// backoff (and jitter, so that a restarted server is not hit by every page
// at once) when the connection drops without the page asking.

import * as proto from './protocol.js';

/** Delays before reconnection attempts, in ms; the last repeats. */
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const PING_EVERY_MS = 3000;

export class Connection {
  /**
   * @param {object} handlers `onMessage(name, body)`, `onStatus(status)`,
   *   `onWelcome(welcome, isReconnect)`.
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.ws = null;
    this.nickname = null;
    /** 'idle' | 'connecting' | 'online' | 'lost' */
    this.status = 'idle';
    this.attempt = 0;
    this.retryAt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.rttMs = null;
    this.everWelcomed = false;
    this.waiters = [];
    /** Messages sent, by variant, for the status bar and for tests. */
    this.sent = {};
    this.received = {};
  }

  /** Opens a session as `nickname`, closing any current one first.
   *  Resolves with the welcome. */
  open(nickname) {
    this.nickname = nickname;
    this.everWelcomed = false;
    this.attempt = 0;
    this.dial();
    return this.welcomed();
  }

  /** Resolves once the current connection has been welcomed. */
  welcomed() {
    if (this.status === 'online') return Promise.resolve(this.welcome);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    const [name] = proto.variant(msg);
    this.sent[name] = (this.sent[name] ?? 0) + 1;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Reconnects now instead of waiting for the backoff. */
  retryNow() {
    if (this.status === 'lost') this.dial();
  }

  dial() {
    this.hangUp();
    clearTimeout(this.retryTimer);
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws`, proto.SUBPROTOCOL);
    this.ws = ws;
    this.setStatus('connecting');
    ws.onopen = () => {
      this.send(proto.hello(this.nickname));
    };
    ws.onmessage = (e) => this.receive(ws, e.data);
    ws.onclose = (e) => this.closed(ws, e);
  }

  hangUp() {
    clearInterval(this.pingTimer);
    if (this.ws) {
      const old = this.ws;
      this.ws = null;
      old.onclose = old.onmessage = old.onopen = null;
      old.close(1000);
    }
  }

  receive(ws, data) {
    if (ws !== this.ws) return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('unreadable message from the server', data);
      return;
    }
    const [name, body] = proto.variant(msg);
    this.received[name] = (this.received[name] ?? 0) + 1;
    if (name === 'welcome') {
      const isReconnect = this.everWelcomed;
      this.everWelcomed = true;
      this.welcome = body;
      this.attempt = 0;
      this.setStatus('online');
      this.startPings();
      this.handlers.onWelcome(body, isReconnect);
      for (const w of this.waiters.splice(0)) w.resolve(body);
      return;
    }
    if (name === 'pong') {
      this.rttMs = Math.round(performance.now() - body.nonce / 1000);
      this.handlers.onStatus(this.status);
      return;
    }
    if (name === 'error' && this.status === 'connecting') {
      // A refused hello (bad nickname, full server): no point retrying.
      this.giveUp(body);
    }
    this.handlers.onMessage(name, body);
  }

  giveUp(error) {
    this.hangUp();
    this.setStatus('idle');
    for (const w of this.waiters.splice(0)) w.reject(error);
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearInterval(this.pingTimer);
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.closeReason = event.reason || null;
    this.setStatus('lost');
    this.retryTimer = setTimeout(() => this.dial(), delay);
  }

  startPings() {
    clearInterval(this.pingTimer);
    const tick = () => {
      // The nonce carries the send time, so no table of pings is kept.
      this.send(proto.ping(Math.floor(performance.now() * 1000)));
    };
    tick();
    this.pingTimer = setInterval(tick, PING_EVERY_MS);
  }

  setStatus(status) {
    this.status = status;
    this.handlers.onStatus(status);
  }
}
