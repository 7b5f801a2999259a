// The room's side panel: presence (players and spectators, live from the
// presence channel) and chat with its limits.

import { CHAT_MAX_CHARS, CHAT_PER_SEC, CHAT_BURST } from './protocol.js';
import { $, byTestId, h } from './dom.js';

/** A stable colour per session, shared by the presence list and the arena. */
export function colorOf(session) {
  const hue = (Number(session) * 137.508) % 360;
  return `hsl(${hue.toFixed(0)} 85% 62%)`;
}

export class SidePanel {
  /** @param {function(string)} sendChat */
  constructor(sendChat) {
    this.members = new Map();
    this.host = null;
    this.me = null;
    this.away = new Set();
    const input = byTestId('chat-input');
    input.maxLength = CHAT_MAX_CHARS;
    $('#chat-rate').textContent = `${CHAT_PER_SEC} line a second, bursts of ${CHAT_BURST}`;
    input.addEventListener('input', () => this.renderCount());
    $('#chat-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      if (sendChat(text)) {
        input.value = '';
        this.renderCount();
        this.chatError(null);
      }
    });
    this.renderCount();
  }

  renderCount() {
    const n = [...byTestId('chat-input').value].length;
    const count = $('#chat-count');
    count.textContent = `${n}/${CHAT_MAX_CHARS}`;
    count.classList.toggle('over', n >= CHAT_MAX_CHARS);
  }

  /** A fresh room: its members and host, as the join reply lists them. */
  enter(members, host, me, keepChat = false) {
    this.members = new Map(members.map((m) => [m.session, m]));
    this.host = host;
    this.me = me;
    this.away.clear();
    if (!keepChat) byTestId('chat-log').replaceChildren();
    this.chatError(null);
    this.render();
  }

  joined(member) {
    this.members.set(member.session, member);
    this.system(`${member.nickname} ${member.role === 'spectator' ? 'is watching' : 'joined'}`);
    this.render();
  }

  left(session, nickname) {
    this.members.delete(session);
    this.away.delete(session);
    this.system(`${nickname} left`);
    this.render();
  }

  hostChanged(session) {
    this.host = session;
    this.render();
  }

  setAway(session, away) {
    if (away) this.away.add(session);
    else this.away.delete(session);
    this.render();
  }

  nickname(session) {
    return this.members.get(session)?.nickname ?? `player ${session}`;
  }

  render() {
    const order = (m) => (m.role === 'player' ? 0 : 1);
    const members = [...this.members.values()].sort((a, b) => order(a) - order(b) || a.session - b.session);
    const items = members.map((m) =>
      h('li', { dataset: { session: m.session, role: m.role, nickname: m.nickname } },
        h('span.avatar', { style: `background:${colorOf(m.session)}` }, m.nickname.slice(0, 1).toUpperCase()),
        h('span.name', {}, m.nickname, m.session === this.me ? h('span.you', {}, ' (you)') : null),
        m.session === this.host ? h('span.tag.host', {}, 'host') : null,
        m.role === 'spectator' ? h('span.tag.spectator', {}, 'watching') : null,
        this.away.has(m.session) ? h('span.tag.away', {}, 'reconnecting') : null));
    byTestId('presence').replaceChildren(...items);
    const players = members.filter((m) => m.role === 'player').length;
    const watching = members.length - players;
    $('#presence-count').textContent = watching ? `${players} + ${watching} watching` : String(players);
  }

  chat(from, nickname, text) {
    const log = byTestId('chat-log');
    log.append(h('li', { class: from === this.me ? 'mine' : '', dataset: { from } },
      h('span.who', { style: `color:${colorOf(from)}` }, nickname), text));
    this.trim(log);
  }

  system(text) {
    const log = byTestId('chat-log');
    log.append(h('li.system', {}, text));
    this.trim(log);
  }

  trim(log) {
    while (log.children.length > 200) log.firstElementChild.remove();
    log.scrollTop = log.scrollHeight;
  }

  chatError(text) {
    const el = $('#chat-error');
    el.hidden = !text;
    el.textContent = text ?? '';
  }
}
