// The messages of the Stadium protocol as the browser speaks them: JSON
// text over WebSocket with the `stadium.json` subprotocol. This mirrors
// shared/src/msg.rs: enums are externally tagged in snake case, so a
// message is `{"variant": {...}}`, or `"variant"` when it carries nothing.

export const PROTOCOL_VERSION = 1;
export const SUBPROTOCOL = 'stadium.json';

/** Longest nickname the server accepts, in characters. */
export const NICKNAME_MAX_CHARS = 20;
/** The server's default chat limits (`--chat-max-chars`, `--chat-per-sec`). */
export const CHAT_MAX_CHARS = 280;
export const CHAT_PER_SEC = 1;
export const CHAT_BURST = 5;

/** The characters of room codes, as shared/src/ids.rs `RoomCode::ALPHABET`:
 *  no 0, 1, I or O, which read alike. */
export const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const CODE_LEN = 4;

/** Whether `text` (already upper-cased) is a well-formed room code. */
export function isRoomCode(text) {
  return text.length === CODE_LEN && [...text].every((c) => CODE_ALPHABET.includes(c));
}

/** Typed code text made a code's characters: upper-cased, without spaces
 *  or punctuation; letters and digits no code holds are returned apart. */
export function cleanCode(text) {
  const typed = text.toUpperCase().replace(/[^A-Z0-9]/g, '');
  const refused = [...new Set([...typed].filter((c) => !CODE_ALPHABET.includes(c)))];
  const code = [...typed].filter((c) => CODE_ALPHABET.includes(c)).join('');
  return { code, refused };
}

/** The games and the settings a room is created with (shared/src/trivia.rs,
 *  shared/src/asteroids.rs); every field is optional on the wire. */
export const GAMES = {
  trivia: {
    title: 'Trivia',
    settings: [
      { key: 'questions', label: 'Questions', min: 1, max: 50, value: 10 },
      { key: 'question_secs', label: 'Seconds per question', min: 1, max: 120, value: 15 },
      { key: 'reveal_secs', label: 'Seconds of reveal', min: 1, max: 30, value: 4 },
      { key: 'max_players', label: 'Seats', min: 1, max: 200, value: 8 },
      { key: 'start_countdown_secs', label: 'Start countdown (s)', min: 0, max: 300, value: 10 },
    ],
  },
  asteroids: {
    title: 'Asteroids',
    settings: [
      { key: 'max_players', label: 'Seats', min: 1, max: 64, value: 8 },
      { key: 'match_secs', label: 'Match length (s)', min: 5, max: 3600, value: 180 },
      { key: 'rocks_per_wave', label: 'Rocks per wave', min: 0, max: 40, value: 4 },
      { key: 'tick_hz', label: 'Ticks per second', min: 10, max: 60, value: 30 },
    ],
  },
};

// What a client sends (ClientMsg).
export const hello = (nickname) => ({ hello: { version: PROTOCOL_VERSION, nickname } });
export const listRooms = () => 'list_rooms';
export const createRoom = (game, settings) => ({ create_room: { settings: { [game]: settings } } });
export const joinRoom = (code, spectate = false) => ({ join_room: { code, spectate } });
export const quickJoin = (game) => ({ quick_join: { game } });
export const leaveRoom = () => 'leave_room';
export const startMatch = () => 'start_match';
export const answer = (question, choice) => ({ answer: { question, choice } });
export const input = (seq, turn, thrust, fire) => ({ input: { seq, turn, thrust, fire } });
export const chat = (text) => ({ chat: { text } });
export const ping = (nonce) => ({ ping: { nonce } });
export const ack = (tick) => ({ ack: { tick } });
export const resume = (session, token, lastEventSeq) => ({
  resume: { session, token, last_event_seq: lastEventSeq },
});

/** The variant name of a message and its payload: `["welcome", {...}]`. */
export function variant(msg) {
  if (typeof msg === 'string') return [msg, null];
  const [name] = Object.keys(msg);
  return [name, msg[name]];
}

/** The kind of a channel (`lobby`, `room`, `presence`, `chat`) from its
 *  Pusher-style name (shared/src/ids.rs). */
export function channelKind(name) {
  if (name === 'lobby') return 'lobby';
  if (name.startsWith('presence-room-')) return 'presence';
  if (name.startsWith('private-room-') && name.endsWith('-chat')) return 'chat';
  if (name.startsWith('room-')) return 'room';
  return 'unknown';
}

/** Readable text for the stable error codes of shared/src/error.rs, for
 *  the ones a player can cause; the server's own message is shown beside. */
const ERROR_TEXT = {
  1000: 'This page speaks another protocol version than the server. Reload the page.',
  1001: 'The server could not read a message from this page.',
  1005: 'An input was out of range.',
  2000: 'Nicknames are 1 to 20 characters, without control characters.',
  2001: 'Slow down: too many messages.',
  2002: 'The connection fell behind and was dropped.',
  3000: 'No open room has that code.',
  3001: 'That room is full.',
  3002: 'You are already in a room; leave it first.',
  3003: 'You are not in a room.',
  3004: 'Those room settings are outside the server limits.',
  3005: 'The server hosts as many rooms as it allows. Try again later.',
  3006: 'Only the host can do that.',
  3007: 'The match is already running.',
  3008: 'That does not apply to this game.',
  3009: 'That room is closing.',
  4000: 'Spectators watch; they cannot play.',
  4001: 'Too late: the question had closed.',
  4002: 'You already answered this question.',
  4003: 'That question is no longer open.',
  4004: 'No such choice.',
  5000: 'Chat messages cannot be empty.',
  5001: 'That chat message is too long.',
  6000: 'The server is full. Try again later.',
  6001: 'The server is shutting down.',
  6002: 'The room stopped because of a server fault.',
};

/** A readable sentence for a server error. */
export function errorText(code, message) {
  return ERROR_TEXT[code] ?? (message ? `${message[0].toUpperCase()}${message.slice(1)}.` : `Error ${code}.`);
}

/** The server's detail beyond its code's own words: `room not found: no
 *  open room has code "ZZZZ"` gives `no open room has code "ZZZZ"`. */
export function errorDetail(message) {
  if (!message) return '';
  const at = message.indexOf(': ');
  return at >= 0 ? message.slice(at + 2) : message;
}
