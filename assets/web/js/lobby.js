// The lobby: the create form with each game's settings, join by code,
// quick join, and the live room list fed by the `lobby` channel.

import { GAMES } from './protocol.js';
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
      code.value = code.value.toUpperCase().replace(/[^A-Z0-9]/g, '');
    });
    $('#join-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.actions.join(code.value, false);
    });
    byTestId('spectate').addEventListener('click', () => this.actions.join(code.value, true));
    this.renderSettings();
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

  render() {
    const rooms = [...this.rooms.values()].filter((r) => r.state !== 'closed');
    rooms.sort((a, b) => a.code.localeCompare(b.code));
    const items = rooms.map((r) => {
      const full = r.players >= r.max_players;
      const watchers = r.spectators ? ` · ${r.spectators} watching` : '';
      return h('li.room-item', { dataset: { code: r.code, game: r.game, state: r.state } },
        h(`span.game-badge.${r.game}`, {}, GAMES[r.game]?.title ?? r.game),
        h('div', {},
          h('div.code', {}, r.code),
          h('div.meta', {}, `${r.players}/${r.max_players} players · ${r.state}${watchers}`)),
        h('div.buttons', {},
          h('button.btn.small.primary', { type: 'button', disabled: full, onclick: () => this.actions.join(r.code, false) },
            full ? 'Full' : 'Join'),
          h('button.btn.small', { type: 'button', onclick: () => this.actions.join(r.code, true) }, 'Watch')));
    });
    byTestId('room-list').replaceChildren(...items);
    $('#room-empty').hidden = rooms.length > 0;
    $('#room-count').textContent = rooms.length ? String(rooms.length) : '';
  }
}
