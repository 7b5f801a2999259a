// The lobby: the create form with each game's settings, join by code,
// quick join, and the live room list fed by the `lobby` channel.

import { CODE_LEN, GAMES, cleanCode } from './protocol.js';
import { $, byTestId, h } from './dom.js';

export class Lobby {
  /** @param {object} actions `create(game, settings)`, `join(code, spectate)`,
   *  `quickJoin(game)`. */
  constructor(actions) {
    this.actions = actions;
    this.rooms = new Map();
    this.select = byTestId('game-select');
    this.select.addEventListener('change', () => this.renderSettings());
    $('#create-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.actions.create(this.select.value, this.settings());
    });
    byTestId('quick-join').addEventListener('click', () => this.actions.quickJoin(this.select.value));
    const code = byTestId('join-code');
    code.addEventListener('input', () => {
      const { code: clean, refused } = cleanCode(code.value);
      code.value = clean.slice(0, CODE_LEN);
      this.codeHint(refused);
    });
    $('#join-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.actions.join(code.value, false);
    });
    byTestId('spectate').addEventListener('click', () => this.actions.join(code.value, true));
    this.renderSettings();
  }

  /** Under the code input: the rule, or which typed characters it broke. */
  codeHint(refused) {
    const hint = byTestId('code-hint');
    hint.classList.toggle('bad', refused.length > 0);
    hint.textContent = refused.length
      ? `Codes never contain ${refused.map((c) => `“${c}”`).join(' or ')}: they use A–Z without I and O, and 2–9.`
      : 'Four letters and digits: A–Z without I and O, and 2–9.';
  }

  renderSettings() {
    const game = GAMES[this.select.value];
    const fields = game.settings.map((s) =>
      h('label', {}, s.label,
        h('input', { type: 'number', name: s.key, min: s.min, max: s.max, value: s.value, required: true,
          dataset: { setting: s.key } })));
    $('#settings').replaceChildren(...fields);
    $('#quick-hint').textContent =
      `Quick join seats you in an open ${game.title} room, or opens one.`;
  }

  /** The form's settings, as the server's settings struct. */
  settings() {
    const out = {};
    for (const input of document.querySelectorAll('#settings input')) {
      out[input.dataset.setting] = Number(input.value);
    }
    return out;
  }

  setRooms(rooms) {
    this.offline = false;
    this.rooms = new Map(rooms.map((r) => [r.code, r]));
    this.render();
  }

  upsert(room) {
    this.rooms.set(room.code, room);
    this.render();
  }

  remove(code) {
    this.rooms.delete(code);
    this.render();
  }

  /** The connection is gone: the rooms listed may be gone too (a stopped
   *  server closes them all), so none is offered until the server lists
   *  them again. */
  setOffline() {
    this.offline = true;
    this.rooms.clear();
    this.render();
  }

  /** Rows are keyed by room code and updated in place, so that a lobby
   *  event changes only the row it concerns; only new rows animate in. */
  render() {
    const list = byTestId('room-list');
    const rooms = [...this.rooms.values()].filter((r) => r.state !== 'closed');
    rooms.sort((a, b) => a.code.localeCompare(b.code));
    const keep = new Set(rooms.map((r) => r.code));
    for (const row of [...list.children]) {
      if (!keep.has(row.dataset.code)) row.remove();
    }
    rooms.forEach((r, i) => {
      let row = list.querySelector(`:scope > [data-code="${r.code}"]`);
      if (!row) {
        row = this.row(r);
        row.classList.add('new');
        row.addEventListener('animationend', () => row.classList.remove('new'), { once: true });
      }
      this.update(row, r);
      // Moving a row would restart its animation: only misplaced ones move.
      if (list.children[i] !== row) list.insertBefore(row, list.children[i] ?? null);
    });
    const empty = $('#room-empty');
    empty.hidden = rooms.length > 0;
    empty.textContent = this.offline
      ? 'Offline: open rooms are listed again once the connection is back.'
      : 'No rooms yet. Create one!';
    empty.classList.toggle('offline', Boolean(this.offline));
    $('#room-count').textContent = rooms.length ? String(rooms.length) : '';
  }

  /** A new row for room `r`; `update` fills what changes. */
  row(r) {
    return h('li.room-item', { dataset: { code: r.code } },
      h(`span.game-badge.${r.game}`, {}, GAMES[r.game]?.title ?? r.game),
      h('div', {}, h('div.code', {}, r.code), h('div.meta', {})),
      h('div.buttons', {},
        h('button.btn.small.primary.join', { type: 'button', onclick: () => this.actions.join(r.code, false) }),
        h('button.btn.small', { type: 'button', onclick: () => this.actions.join(r.code, true) }, 'Watch')));
  }

  update(row, r) {
    const full = r.players >= r.max_players;
    const watchers = r.spectators ? ` · ${r.spectators} watching` : '';
    Object.assign(row.dataset, { game: r.game, state: r.state });
    row.querySelector('.meta').textContent = `${r.players}/${r.max_players} players · ${r.state}${watchers}`;
    const join = row.querySelector('.join');
    join.disabled = full;
    join.textContent = full ? 'Full' : 'Join';
  }
}
