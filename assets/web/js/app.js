// The page's controller: one connection, the lobby, and the room views.
// It routes server messages to the view they concern, keeps track of the
// room the player is in so that a dropped connection can get back to it,
// and shows server errors as readable messages.

import * as proto from './protocol.js';
import { Connection } from './connection.js';
import { Lobby } from './lobby.js';
import { SidePanel } from './side.js';
import { TriviaView } from './trivia.js';
import { ArenaView } from './arena.js';
import { $, byTestId, h, showOnly } from './dom.js';

const NICK_KEY = 'stadium.nickname';

const app = {
  session: null,
  /** The resume token of `session`, when the server issues them. */
  token: null,
  /** The room the player is in: `{code, game, role, state}`. */
  room: null,
  /** The newest room event number seen, for a resume. */
  eventSeq: 0,
  /** A room created by this page, to join as soon as it exists. */
  creating: false,
  /** How the page is getting back into `room` after a reconnect:
   *  null, 'resume' (taking the old session back) or 'join' (by code). */
  rejoining: null,
  /** The server said it was shutting down: its rooms close with it. */
  serverStopped: false,
  /** The newest errors the server sent, for tests and the curious. */
  errors: [],
};

const conn = new Connection({
  onWelcome: welcomed,
  onMessage: received,
  onStatus: renderStatus,
});

const lobby = new Lobby({
  create: (game, settings) => act(() => {
    app.creating = true;
    conn.send(proto.createRoom(game, settings));
  }),
  join: (code, spectate) => {
    const trimmed = code.trim().toUpperCase();
    if (!proto.isRoomCode(trimmed)) {
      toast(`Room codes are ${proto.CODE_LEN} characters: A–Z without I and O, and 2–9.`);
      return;
    }
    act(() => conn.send(proto.joinRoom(trimmed, spectate)));
  },
  quickJoin: (game) => act(() => conn.send(proto.quickJoin(game))),
});

const side = new SidePanel((text) => roomCtx.send(proto.chat(text)));

const roomCtx = {
  // Nothing for the room goes out while the page is getting back into it:
  // the new connection is not in the room yet.
  send: (msg) => !app.rejoining && conn.send(msg),
  me: () => app.session,
  code: () => app.room?.code,
  isHost: () => side.host === app.session,
  isSpectator: () => app.room?.role === 'spectator',
  players: () => [...side.members.values()].filter((m) => m.role === 'player').length,
  nickname: (session) => side.nickname(session),
};
const trivia = new TriviaView(roomCtx);
const arena = new ArenaView(roomCtx);

// --- Session -----------------------------------------------------------

function nicknameInput() {
  return byTestId('nickname');
}

/** Runs `action` once the session is open under the nickname shown. */
async function act(action) {
  const nickname = nicknameInput().value.trim();
  if (!nickname || [...nickname].length > proto.NICKNAME_MAX_CHARS) {
    toast(proto.errorText(2000));
    nicknameInput().focus();
    return;
  }
  try {
    if (conn.status !== 'online' || conn.nickname !== nickname) {
      localStorage.setItem(NICK_KEY, nickname);
      await conn.open(nickname);
    }
    action();
  } catch (err) {
    if (err && err.code) toast(proto.errorText(err.code, err.message), err.code);
  }
}

function welcomed(welcome, isReconnect) {
  const previous = { session: app.session, token: app.token };
  // A running server numbers sessions upwards, so a number not above the
  // old one comes from a new server process, which holds no old room.
  const restarted = isReconnect
    && (app.serverStopped || (previous.session !== null && welcome.session <= previous.session));
  app.serverStopped = false;
  app.session = welcome.session;
  app.token = welcome.resume_token ?? null;
  if (isReconnect && app.room && restarted) {
    const lost = app.room.code;
    exitRoom();
    toast(`The server restarted, so room ${lost} is gone: rooms do not outlive the server. Create or pick a room.`);
    return;
  }
  if (!isReconnect || !app.room) {
    conn.send(proto.listRooms());
    return;
  }
  if (app.room.game === 'asteroids') arena.reconnected();
  if (previous.token) {
    // The server keeps a dropped player's seat for a while: take it back,
    // with the room events missed since the newest one seen.
    app.rejoining = 'resume';
    app.resumeOf = previous;
    conn.send(proto.resume(previous.session, previous.token, app.eventSeq));
  } else {
    rejoinByCode();
  }
}

/** Joins the room again as a new session: its seat (and, in trivia, the
 *  match's score) is not kept. */
function rejoinByCode() {
  app.rejoining = 'join';
  conn.send(proto.joinRoom(app.room.code, app.room.role === 'spectator'));
}

// --- Messages ----------------------------------------------------------

function received(name, body) {
  switch (name) {
    case 'room_list':
      lobby.setRooms(body.rooms);
      break;
    case 'room_created':
      if (app.creating && !app.room) {
        app.creating = false;
        conn.send(proto.joinRoom(body.room.code, false));
      }
      break;
    case 'joined':
      app.rejoining = null;
      enterRoom(body.room, body.role, body.members, body.host);
      break;
    case 'resumed':
      resumed(body);
      break;
    case 'left':
      if (app.room && body.code === app.room.code) {
        if (body.reason) toast(`You left room ${body.code}: ${proto.errorText(body.reason)}`, body.reason);
        exitRoom();
      }
      break;
    case 'event':
      if (body.seq !== undefined && body.seq !== null) app.eventSeq = body.seq;
      onEvent(body.channel, body.event);
      break;
    case 'answer_accepted':
      trivia.onAccepted(body);
      break;
    case 'snapshot':
      if (app.room?.game === 'asteroids') arena.onSnapshot(body);
      break;
    case 'progress':
      // What began before this page arrived: a countdown, an open
      // question, the match clock.
      if (app.room && body.trivia) trivia.onProgress(body.trivia);
      else if (app.room && body.asteroids) arena.onProgress(body.asteroids);
      break;
    case 'error':
      onError(body.code, body.message);
      break;
    default:
      break;
  }
}

function resumed(body) {
  if (!app.room) return;
  // This connection is the old session now; its token stays valid.
  app.session = body.session;
  if (app.resumeOf?.token) app.token = app.resumeOf.token;
  if (!body.room) {
    // The session came back, but its seat had gone: join again.
    rejoinByCode();
    return;
  }
  app.rejoining = null;
  app.room.role = body.role;
  // The room's missed events follow; the views pick up from them.
  app.room.state = body.room.state;
  arena.setRoomState(body.room.state);
  side.enter(body.members, body.host, app.session, true);
  side.system('Reconnected.');
  renderRoomHead();
}

function onEvent(channel, event) {
  const kind = proto.channelKind(channel);
  const [name, body] = proto.variant(event);
  if (kind === 'lobby') {
    if (name === 'room_opened' || name === 'room_updated') lobby.upsert(body);
    else if (name === 'room_closed') lobby.remove(body.code);
    return;
  }
  if (!app.room) return;
  if (kind === 'presence') {
    if (name === 'member_joined') side.joined(body);
    else if (name === 'member_left') side.left(body.session, body.nickname);
    else if (name === 'host_changed') side.hostChanged(body.session);
    else if (name === 'member_disconnected') side.setAway(body.session, true);
    else if (name === 'member_reconnected') side.setAway(body.session, false);
    trivia.renderWaiting();
    return;
  }
  if (kind === 'chat') {
    if (name === 'chat') side.chat(body.from, body.nickname, body.text);
    return;
  }
  if (name === 'state_changed') {
    app.room.state = body;
    arena.setRoomState(body);
    renderRoomHead();
    if (app.room.game === 'trivia') trivia.renderWaiting(body);
  } else if (name === 'trivia') {
    trivia.onEvent(body);
  } else if (name === 'asteroids') {
    arena.onEvent(body);
  }
}

function onError(code, message) {
  app.errors.push({ code, message, rejoining: app.rejoining });
  if (app.errors.length > 20) app.errors.shift();
  if (code === 6001) app.serverStopped = true;
  const text = proto.errorText(code, message);
  if (app.rejoining === 'resume') {
    // 2004: the old session is gone (its grace period ran out, or it was
    // a spectator): join by code. Other errors (2006, a replay range the
    // room does not have, is followed by the answer all the same) wait.
    if (code === 2004) rejoinByCode();
    return;
  }
  if (app.rejoining === 'join') {
    // The room is gone or full: back to the lobby, saying so.
    app.rejoining = null;
    const lost = app.room?.code;
    exitRoom();
    toast(code === 3000 ? `Room ${lost} closed while you were away.` : `Could not get back into room ${lost}: ${text}`, code);
    return;
  }
  if (code === 3000 || code === 3001 || code === 3009) app.creating = false;
  if (code >= 4001 && code <= 4004) {
    trivia.onAnswerError(code, message);
    return;
  }
  if (code === 5000 || code === 5001 || (code === 2001 && /chat/.test(message ?? ''))) {
    side.chatError(text);
    return;
  }
  toast(text, code, proto.errorDetail(message));
}

// --- Views -------------------------------------------------------------

function enterRoom(room, role, members, host) {
  const same = app.room && app.room.code === room.code;
  app.room = { code: room.code, game: room.game, role, state: room.state };
  side.enter(members, host, app.session, same);
  if (same) side.system('Reconnected.');
  showOnly($('#room'), $('#lobby'), $('#room'));
  nicknameInput().disabled = true;
  if (room.game === 'trivia') {
    arena.leave();
    showOnly($('#trivia'), $('#trivia'), $('#arena'));
    trivia.enter(room.state);
  } else {
    trivia.leave();
    showOnly($('#arena'), $('#trivia'), $('#arena'));
    arena.enter(room.state);
  }
  renderRoomHead();
  if (!same) history.replaceState(null, '', `#${room.code}`);
}

function exitRoom() {
  app.room = null;
  app.rejoining = null;
  app.eventSeq = 0;
  arena.leave();
  trivia.leave();
  showOnly($('#lobby'), $('#lobby'), $('#room'));
  nicknameInput().disabled = false;
  history.replaceState(null, '', location.pathname);
  document.title = 'Stadium';
  if (conn.status === 'online') conn.send(proto.listRooms());
}

function renderRoomHead() {
  const room = app.room;
  if (!room) return;
  const badge = $('#room-game');
  badge.textContent = proto.GAMES[room.game]?.title ?? room.game;
  badge.className = `game-badge ${room.game}`;
  byTestId('room-code').textContent = room.code;
  document.title = `${room.code} · ${badge.textContent} · Stadium`;
  const state = $('#room-state');
  state.textContent = room.state;
  state.className = `state-badge ${room.state}`;
  $('#role-badge').hidden = room.role !== 'spectator';
}

function renderStatus(status) {
  const el = $('#conn');
  el.dataset.state = status;
  const text = $('#conn-text');
  if (status === 'online') text.textContent = conn.rttMs === null ? 'Online' : `Online · ${conn.rttMs} ms`;
  else if (status === 'connecting') text.textContent = 'Connecting…';
  else if (status === 'lost') text.textContent = 'Offline';
  else text.textContent = 'Not connected';
  $('#banner').hidden = status !== 'lost' && !(status === 'connecting' && conn.attempt > 0);
  if (!$('#banner').hidden) lobby.setOffline();
  renderBanner();
}

function renderBanner() {
  if ($('#banner').hidden) return;
  let where = '';
  if (app.room && app.serverStopped) where = ` The server shut down: room ${app.room.code} closed with it.`;
  else if (app.room) where = ` You go back into room ${app.room.code} if it is still open.`;
  const secs = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
  $('#banner-text').textContent = conn.status === 'connecting'
    ? `Reconnecting (attempt ${conn.attempt})…${where}`
    : `Trying again in ${secs} s.${where}`;
}
setInterval(renderBanner, 250);

function toast(text, code, detail) {
  const small = code ? [`error ${code}`, detail].filter(Boolean).join(' · ') : null;
  const el = h(`div.toast${code ? '' : '.info'}`, { role: 'alert', dataset: { code: code ?? '' } },
    text, small ? h('span.code', {}, small) : null);
  $('#toasts').append(el);
  setTimeout(() => el.remove(), 6000);
  while ($('#toasts').children.length > 4) $('#toasts').firstElementChild.remove();
}

// --- Start -------------------------------------------------------------

$('#retry').addEventListener('click', () => conn.retryNow());
$('#leave').addEventListener('click', () => {
  conn.send(proto.leaveRoom());
  exitRoom();
});
byTestId('room-code').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(app.room?.code ?? '');
    toast(`Copied ${app.room?.code}: share it with friends.`);
  } catch {
    /* Clipboard needs a secure context or permission; the code is on screen. */
  }
});
nicknameInput().addEventListener('change', () => {
  if (!app.room) act(() => {});
});

// Closing the tab is leaving: the server need not keep the seat for a
// resume that cannot come (the token lives only in this page).
window.addEventListener('pagehide', () => {
  if (app.room) conn.send(proto.leaveRoom());
});

const stored = localStorage.getItem(NICK_KEY);
nicknameInput().value = stored || `Pilot-${Math.floor(100 + Math.random() * 900)}`;
const codeInUrl = location.hash.slice(1).toUpperCase();
if (proto.isRoomCode(codeInUrl)) byTestId('join-code').value = codeInUrl;
act(() => {});

/** For the curious and for tests: what the page sent and holds. */
window.stadium = {
  get session() { return app.session; },
  get room() { return app.room; },
  get status() { return conn.status; },
  get errors() { return app.errors; },
  sent: conn.sent,
  received: conn.received,
  arena: () => arena.debug(),
  arenaTicks: () => arena.heldTicks(),
  arenaState: (tick) => arena.stateAt(tick),
  dropConnection: () => conn.ws?.close(),
};
