// The trivia view: waiting and countdown, the open question with its four
// choices and timer, the locked answer, the reveal, the scoreboard and the
// final standings. Events come from the room's channel (TriviaEvent in
// shared/src/msg.rs); the right choice is only known at the reveal.

import * as proto from './protocol.js';
import { $, byTestId, h } from './dom.js';


export class TriviaView {
  /** @param {object} ctx `send(msg)`, `me()`, `isHost()`, `isSpectator()`,
   *  `players()` (seated count). */
  constructor(ctx) {
    this.ctx = ctx;
    this.question = null;
    this.answer = null;
    this.scores = [];
    this.gains = new Map();
    this.countdownEnd = null;
    this.raf = null;
    for (const button of document.querySelectorAll('.choice')) {
      button.addEventListener('click', () => this.choose(Number(button.dataset.index)));
    }
    $('#start-match').addEventListener('click', () => this.ctx.send(proto.startMatch()));
  }

  /** Entering a room: nothing known yet but its state. */
  enter(roomState) {
    this.question = null;
    this.answer = null;
    this.scores = [];
    this.gains.clear();
    this.countdownEnd = null;
    this.late = false;
    this.renderScores();
    this.show('waiting');
    this.renderWaiting(roomState);
    this.startClock();
  }

  leave() {
    cancelAnimationFrame(this.raf);
    this.raf = null;
  }

  show(which) {
    $('#trivia-waiting').hidden = which !== 'waiting';
    $('#trivia-question').hidden = which !== 'question';
    $('#trivia-final').hidden = which !== 'final';
  }

  /** The waiting card, for a room in `roomState` (or after membership changes). */
  renderWaiting(roomState = this.roomState) {
    this.roomState = roomState;
    if ($('#trivia-waiting').hidden) return;
    const title = $('#waiting-title');
    const text = $('#waiting-text');
    const players = this.ctx.players();
    if (roomState === 'running') {
      title.textContent = 'A match is under way';
      text.textContent = this.ctx.isSpectator()
        ? 'The next question appears here.'
        : 'You play from the next question.';
    } else if (this.countdownEnd) {
      title.textContent = 'Get ready';
      text.replaceChildren('The match starts in ', h('span.big-count', { id: 'count' }, ''), ' seconds');
    } else {
      title.textContent = 'Waiting for players';
      text.replaceChildren(players < 2
        ? 'The countdown starts once two players are in. Share the code '
        : 'The match starts when the room is full or the host starts it. Code ',
      h('strong.share-code', {}, this.ctx.code() ?? ''));
    }
    $('#start-match').hidden = !(this.ctx.isHost() && roomState !== 'running');
  }

  onEvent(ev) {
    const [name, body] = proto.variant(ev);
    switch (name) {
      case 'countdown':
        this.onCountdown(body.starts_in_ms);
        break;
      case 'countdown_cancelled':
        this.countdownEnd = null;
        if (!$('#trivia-final').hidden) $('#final-hint').textContent = 'The next match starts soon.';
        this.renderWaiting('lobby');
        break;
      case 'match_started':
        this.countdownEnd = null;
        this.scores = [];
        this.gains.clear();
        this.renderScores();
        this.total = body.questions;
        break;
      case 'question':
        this.onQuestion(body);
        break;
      case 'reveal':
        this.onReveal(body);
        break;
      case 'match_over':
        this.onMatchOver(body);
        break;
      default:
        break;
    }
  }

  onCountdown(startsInMs) {
    this.countdownEnd = performance.now() + startsInMs;
    if (!$('#trivia-final').hidden) {
      // The standings stay up; the countdown runs beneath them.
      $('#final-hint').replaceChildren('The next match starts in ', h('strong', { id: 'count', testid: 'final-count' }, ''), ' s.');
      return;
    }
    this.show('waiting');
    this.renderWaiting('lobby');
  }

  /** Where the room stands, for a page that arrived part-way: a joiner
   *  (player or spectator) mid-question sees it with the time left; a
   *  resumed player keeps its locked answer and takes the time left. */
  onProgress(p) {
    if (p.starts_in_ms !== null) this.onCountdown(p.starts_in_ms);
    if (p.scoreboard.length) {
      this.scores = p.scoreboard;
      this.renderScores();
    }
    const q = p.question;
    if (!q) return;
    if (this.question?.index === q.index && this.question.text === q.text) {
      this.question.endsAt = performance.now() + p.left_ms;
      return;
    }
    // Seated after the question opened: the server takes answers from the next one.
    this.onQuestion(q, p.left_ms, !this.ctx.isSpectator());
  }

  onQuestion(q, leftMs = q.time_ms, late = false) {
    this.question = { ...q, endsAt: performance.now() + leftMs, revealed: null };
    this.answer = null;
    this.late = late;
    this.show('question');
    $('#q-progress').textContent = `Question ${q.index + 1} of ${q.total}`;
    $('#q-category').textContent = `${q.category} · ${q.difficulty}`;
    const question = byTestId('question');
    question.textContent = q.text;
    question.dataset.index = String(q.index);
    question.dataset.timeMs = String(q.time_ms);
    document.querySelectorAll('.choice').forEach((button, i) => {
      button.className = 'choice';
      button.disabled = this.ctx.isSpectator() || late;
      button.querySelector('.text').textContent = q.choices[i];
      delete button.dataset.result;
    });
    const status = byTestId('answer-status');
    status.className = 'answer-status';
    for (const key of ['choice', 'elapsedMs', 'result', 'points']) delete status.dataset[key];
    if (this.ctx.isSpectator()) status.textContent = 'You are watching: answers are the players\u2019.';
    else if (late) status.textContent = 'You joined during this question: you answer from the next one.';
    else status.textContent = 'Pick an answer. Faster right answers score more.';
  }

  choose(choice) {
    const q = this.question;
    if (!q || q.revealed !== null || this.answer || this.late || this.ctx.isSpectator()) return;
    if (!this.ctx.send(proto.answer(q.index, choice))) return;
    this.answer = { question: q.index, choice, accepted: null };
    document.querySelectorAll('.choice').forEach((button, i) => {
      button.disabled = true;
      button.classList.add('locked');
      button.classList.toggle('chosen', i === choice);
    });
    const status = byTestId('answer-status');
    status.dataset.choice = String(choice);
    status.textContent = 'Answer locked in…';
  }

  onAccepted(body) {
    if (!this.answer || this.answer.question !== body.question) return;
    this.answer.accepted = body.elapsed_ms;
    const status = byTestId('answer-status');
    status.dataset.elapsedMs = String(body.elapsed_ms);
    status.textContent = `Answer locked in after ${(body.elapsed_ms / 1000).toFixed(2)} s. Waiting for the reveal…`;
  }

  /** An answer the server refused (late, repeated): unlock nothing, say why. */
  onAnswerError(code, message) {
    if (!this.answer) return;
    const status = byTestId('answer-status');
    status.className = 'answer-status bad';
    status.textContent = proto.errorText(code, message);
  }

  onReveal(r) {
    const q = this.question;
    if (q && q.index === r.index) q.revealed = r.correct;
    const me = this.ctx.me();
    const mine = r.results.find((x) => x.session === me);
    document.querySelectorAll('.choice').forEach((button, i) => {
      button.disabled = true;
      button.classList.add('locked');
      if (i === r.correct) {
        button.classList.add('correct');
        button.dataset.result = 'correct';
      } else if (mine && mine.choice === i) {
        button.classList.add('wrong');
        button.dataset.result = 'wrong';
      }
    });
    const status = byTestId('answer-status');
    if (this.ctx.isSpectator() || !mine || (mine.choice === null && this.late)) {
      status.className = 'answer-status';
      status.textContent = `The answer was ${'ABCD'[r.correct]}.`;
    } else {
      status.dataset.result = mine.correct ? 'correct' : 'wrong';
      status.dataset.points = String(mine.points);
      if (mine.choice === null) {
        status.className = 'answer-status bad';
        status.textContent = `Time\u2019s up! The answer was ${'ABCD'[r.correct]}.`;
      } else if (mine.correct) {
        status.className = 'answer-status good';
        status.textContent = `Correct! +${mine.points} points`;
      } else {
        status.className = 'answer-status bad';
        status.textContent = `Not quite: the answer was ${'ABCD'[r.correct]}.`;
      }
    }
    this.gains = new Map(r.results.map((x) => [x.session, x.points]));
    this.scores = r.scoreboard;
    this.renderScores();
  }

  onMatchOver(over) {
    this.question = null;
    $('#final-hint').textContent = 'The next match starts soon.';
    this.scores = over.standings;
    this.gains.clear();
    this.renderScores();
    const me = this.ctx.me();
    const items = over.standings.map((s, i) =>
      h('li', { dataset: { session: s.session, score: s.score }, class: s.session === me ? 'me' : '' },
        h('span.medal', {}, String(i + 1)),
        h('span.name', {}, s.nickname, s.session === me ? ' (you)' : ''),
        h('span.score', {}, String(s.score))));
    byTestId('standings').replaceChildren(...items);
    this.show('final');
  }

  renderScores() {
    const me = this.ctx.me();
    const items = this.scores.map((s, i) => {
      const gain = this.gains.get(s.session);
      return h('li', { class: s.session === me ? 'me' : '', dataset: { session: s.session, score: s.score } },
        h('span.rank', {}, `${i + 1}`),
        h('span', {}, h('span.name', {}, s.nickname), ' ', h('span.sub', {}, `${s.correct} right`)),
        h('span.gain', {}, gain ? `+${gain}` : ''),
        h('span.score', {}, String(s.score)));
    });
    if (!items.length) items.push(h('li.empty-row', {}, h('span'), h('span.sub', {}, 'Scores appear after the first question.')));
    byTestId('scoreboard').replaceChildren(...items);
  }

  /** Animates the question timer and the start countdown. */
  startClock() {
    cancelAnimationFrame(this.raf);
    const frame = () => {
      const now = performance.now();
      const q = this.question;
      if (q && !$('#trivia-question').hidden) {
        const left = q.revealed === null ? Math.max(0, q.endsAt - now) : 0;
        const share = q.time_ms ? left / q.time_ms : 0;
        const fill = $('#timer-fill');
        fill.style.transform = `scaleX(${share})`;
        fill.classList.toggle('low', share < 0.25);
        $('#q-seconds').textContent = String(Math.ceil(left / 1000));
      }
      const count = $('#count');
      if (count && this.countdownEnd) {
        count.textContent = String(Math.max(0, Math.ceil((this.countdownEnd - now) / 1000)));
      }
      this.raf = requestAnimationFrame(frame);
    };
    this.raf = requestAnimationFrame(frame);
  }
}
