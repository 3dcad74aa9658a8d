// The page's chat logic without a browser: a fake view, storage and socket, and node:test's
// fake clock. Each test plays the server by hand, frame by frame.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import {
  decodeEvent,
  type ChatMessage,
  type ClientRequest,
  type RequestResult,
  type ServerEvent,
} from '../src/protocol/index.js';
import { Chat } from '../src/client/chat.js';
import type { Self } from '../src/client/message-state.js';
import type { OlderState, SysOptions } from '../src/client/messages.js';
import { MemoryOutbox, type OutboxEntry } from '../src/client/outbox.js';
import type { ChatLog, ChatStorage, ChatView, LogLine } from '../src/client/ports.js';
import type { Pending, ReplyHandlers, ResultOf } from '../src/client/requests.js';
import type { Identity, RoomList } from '../src/client/storage.js';
import type { DirectoryItem, MemberPresence, RoomItem } from '../src/client/view.js';

const TOKEN = 'a'.repeat(32);

interface Line extends LogLine {
  room: string;
  text: string;
  isConnected: boolean;
}

/**
 * Keeps what the page's MessageLog promises: a seq or a cid is shown at most once, in seq
 * order; insert returns what it added.
 */
class FakeLog implements ChatLog {
  readonly shown = new Map<string, ChatMessage[]>();
  readonly lines: Line[] = [];
  readonly older = new Map<string, OlderState>();
  /** Messages held for the quotes of replies, by room. */
  readonly quotes = new Map<string, Map<number, ChatMessage>>();
  /** Editors opened, as room and seq. */
  readonly editing: [string, number][] = [];
  setSelf(): void {}
  setEditWindow(): void {}
  sys(room: string, text: string, _cls?: string, opts?: SysOptions): Line {
    const keyed = opts?.key && this.lines.find((l) => l.room === room && l.text === text);
    if (keyed) return keyed;
    const line = { room, text, isConnected: true };
    this.lines.push(line);
    return line;
  }
  setSysText(line: LogLine, text: string): void {
    (line as Line).text = text;
  }
  isLast(line: LogLine): boolean {
    return this.lines[this.lines.length - 1] === line;
  }
  insert(room: string, messages: ChatMessage[]): ChatMessage[] {
    const list = this.shown.get(room) ?? [];
    const added = messages.filter(
      (m) => !list.some((x) => x.seq === m.seq || x.cid === m.cid) && list.push(m),
    );
    list.sort((a, b) => a.seq - b.seq);
    this.shown.set(room, list);
    return added;
  }
  reveal(): boolean {
    return false;
  }
  message(room: string, seq: number): ChatMessage | undefined {
    return this.shown.get(room)?.find((m) => m.seq === seq) ?? this.quotes.get(room)?.get(seq);
  }
  latest(room: string, pick: (m: ChatMessage) => boolean): ChatMessage | undefined {
    return [...(this.shown.get(room) ?? [])].reverse().find(pick);
  }
  update(room: string, m: ChatMessage): void {
    const list = this.shown.get(room) ?? [];
    const i = list.findIndex((x) => x.seq === m.seq);
    if (i >= 0) list[i] = m;
    else if (this.quotes.get(room)?.has(m.seq)) this.quotes.get(room)?.set(m.seq, m);
  }
  quoted(room: string, m: ChatMessage): void {
    const held = this.quotes.get(room) ?? new Map<number, ChatMessage>();
    this.quotes.set(room, held.set(m.seq, m));
  }
  startEdit(room: string, seq: number): boolean {
    if (!this.message(room, seq)) return false;
    this.editing.push([room, seq]);
    return true;
  }
  /** The state of a shown message. */
  state(room: string, seq: number): ChatMessage | undefined {
    return this.shown.get(room)?.find((m) => m.seq === seq);
  }

  oldestSeq(room: string): number | undefined {
    return this.shown.get(room)?.[0]?.seq;
  }
  setOlder(room: string, state: OlderState): void {
    this.older.set(room, state);
  }
  remove(room: string): void {
    this.shown.delete(room);
  }
  clear(room: string): void {
    this.shown.delete(room);
  }
  scrollToBottom(): void {}
  /** Whether the room shown is scrolled to its end (a test scrolls up by clearing it). */
  bottom = true;
  atBottom(): boolean {
    return this.bottom;
  }
  /** Where each room's "new" line is: above the first message of another after this seq. */
  readonly newAfter = new Map<string, number | undefined>();
  markNew(room: string, after: number | undefined): void {
    this.newAfter.set(room, after);
  }
  seqs(room: string): number[] {
    return (this.shown.get(room) ?? []).map((m) => m.seq);
  }
  said(text: string): boolean {
    return this.lines.some((l) => l.text.includes(text));
  }
}

class FakeView implements ChatView {
  readonly log = new FakeLog();
  readonly nameInput = { focus: (): void => {} };
  namePromptOpen = false;
  nameError = '';
  me = '';
  pending: OutboxEntry[] = [];
  replying: ChatMessage | undefined;
  rooms: RoomItem[] = [];
  readonly announced: string[] = [];
  setMe(self: Self): void {
    this.me = self.name;
  }
  setUnseen(): void {}
  showRoom(): void {}
  setRooms(items: RoomItem[]): void {
    this.rooms = items.map((r) => ({ ...r, joined: r.joined }));
  }
  members: { names: string[]; count: number | undefined } | undefined;
  setMembers(
    _room: string,
    names: string[],
    _me: string,
    _p: (n: string) => MemberPresence,
    count?: number,
  ): void {
    this.members = { names, count };
  }
  setTyping(): void {}
  setPending(entries: OutboxEntry[]): void {
    this.pending = entries;
  }
  setReplying(target: ChatMessage | undefined): void {
    this.replying = target;
  }
  setDirectory(_note: string, _rooms: DirectoryItem[]): void {}
  announce(text: string): void {
    this.announced.push(text);
  }
  openNamePrompt(): void {
    this.namePromptOpen = true;
  }
  closeNamePrompt(): void {
    this.namePromptOpen = false;
  }
  setNameError(text: string): void {
    this.nameError = text;
  }
  setNameBusy(): void {}
}

class FakeStorage implements ChatStorage {
  identity: Identity | undefined;
  rooms: RoomList | undefined;
  saveIdentity(id: Identity): void {
    this.identity = { ...id };
  }
  saveRooms(list: RoomList): void {
    this.rooms = list;
  }
  saveClosed(): void {}
  skipName(): void {}
}

type Sent = ClientRequest & { id: string };
/** A result without its type and id, of one kind. */
type ResultBody = RequestResult extends infer R
  ? R extends RequestResult
    ? Omit<R, 'type' | 'id'>
    : never
  : never;

/** A page with its fakes; `server*` helpers answer as the server would. */
class Page {
  readonly view = new FakeView();
  readonly storage = new FakeStorage();
  readonly outbox = new MemoryOutbox();
  readonly chat: Chat;
  open = false;
  /** The tab is hidden. */
  hidden = false;
  sent: Sent[] = [];
  drops = 0;

  constructor(identity: Identity = { name: 'ada', token: TOKEN }, rooms = ['lobby']) {
    this.chat = new Chat({
      view: this.view,
      storage: this.storage,
      outbox: this.outbox,
      identity,
      rooms: { rooms, current: rooms[0] ?? 'lobby' },
      closed: new Set(),
      askName: false,
      decode: decodeEvent,
      transmit: (frame) => {
        if (!this.open) return false;
        this.sent.push(JSON.parse(frame) as Sent);
        return true;
      },
      drop: () => {
        this.drops++;
        this.disconnect();
      },
      hidden: () => this.hidden,
      notify: () => {},
    });
  }

  emit(ev: ServerEvent): void {
    this.chat.onFrame(JSON.stringify(ev));
  }

  connect(): void {
    this.open = true;
    this.chat.onOpen();
    this.emit({
      type: 'welcome',
      text: 'Welcome.',
      name: 'parley',
      limits: {
        maxMessageBytes: 65536,
        maxTextBytes: 4096,
        historyBound: 500,
        ratePerSecond: 50,
        rateBurst: 100,
        editWindowMs: 0,
      },
    });
  }

  disconnect(): void {
    this.open = false;
    this.chat.onClose(1006, '');
  }

  /** Takes the requests sent so far. */
  take(): Sent[] {
    const s = this.sent;
    this.sent = [];
    return s;
  }

  one<T extends ClientRequest['type']>(type: T): Extract<Sent, { type: T }> {
    const i = this.sent.findIndex((r) => r.type === type);
    assert.ok(i >= 0, `a ${type} request was sent (sent: ${JSON.stringify(this.sent)})`);
    const [r] = this.sent.splice(i, 1);
    return r as Extract<Sent, { type: T }>;
  }

  result(req: Sent, body: ResultBody): void {
    this.emit({ type: 'result', id: req.id, ...body } as RequestResult);
  }

  /** Connects and answers the hello with `name`; returns the requests that followed. */
  handshake(name = 'ada'): void {
    this.connect();
    const hello = this.one('hello');
    this.result(hello, {
      of: 'hello',
      name,
      token: hello.token ?? TOKEN,
      userId: `u_${name}`,
      direct: [],
    });
  }

  joinAnswer(room: string, lastSeq: number, members: string[] = ['ada']): Sent {
    const join = this.one('join');
    assert.equal(join.type === 'join' && join.room, room);
    this.result(join, { of: 'join', room, lastSeq, members, memberCount: members.length });
    return join;
  }
}

/** A message as the server sends it: its sender's user id is `u_` and the name (see Page). */
function msg(room: string, seq: number, from = 'bob', text = `m${seq}`): ChatMessage {
  const fromId = `u_${from}`;
  return { room, seq, from, fromId, text, ts: 1000 + seq, cid: `c${room}${seq}`, me: false };
}

function live(p: Page, m: ChatMessage): void {
  p.emit({ type: 'msg', ...m });
}

beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
});
afterEach(() => {
  mock.timers.reset();
});

test('handshake: welcome, hello with the stored name and token, then a join of each room', () => {
  const p = new Page({ name: 'ada', token: TOKEN }, ['lobby', 'dev']);
  p.connect();
  const sent = p.take();
  assert.deepEqual(
    sent.map((r) => r.type),
    ['hello'],
    'only the hello goes before it is answered',
  );
  const hello = sent[0];
  assert.ok(hello?.type === 'hello');
  assert.equal(hello.name, 'ada');
  assert.equal(hello.token, TOKEN);
  p.result(hello, { of: 'hello', name: 'ada', token: TOKEN, userId: 'u_ada', direct: [] });
  const joins = p.take();
  assert.deepEqual(
    joins.map((r) => (r.type === 'join' ? [r.room, r.since] : r.type)),
    [
      ['lobby', undefined],
      ['dev', undefined],
    ],
  );
  assert.equal(p.view.me, 'ada');
  assert.deepEqual(p.storage.identity, { name: 'ada', token: TOKEN });
});

test('a reconnect joins with since: the last seq seen; replayed messages show once', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 2);
  const latest = p.one('history');
  p.result(latest, {
    of: 'history',
    room: 'lobby',
    messages: [msg('lobby', 1), msg('lobby', 2)],
    more: false,
  });
  live(p, msg('lobby', 3));
  assert.deepEqual(p.view.log.seqs('lobby'), [1, 2, 3]);

  p.disconnect();
  assert.ok(p.view.log.said('Connection lost.'));
  p.handshake();
  const join = p.joinAnswer('lobby', 4);
  assert.ok(join.type === 'join');
  assert.equal(join.since, 3);
  assert.equal(p.take().filter((r) => r.type === 'history').length, 0, 'no full reload');
  // The server replays from since: 3 again (a resend that crossed the close), then 4.
  live(p, msg('lobby', 3));
  live(p, msg('lobby', 4));
  assert.deepEqual(p.view.log.seqs('lobby'), [1, 2, 3, 4]);
  assert.equal(p.view.announced.filter((a) => a === 'bob: m3').length, 1, 'm3 announced once');
  assert.ok(p.view.announced.includes('Connected again.'));
});

test('a hole in the live stream is filled from history; duplicates and late ones show once, in order', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.take();
  live(p, msg('lobby', 1));
  live(p, msg('lobby', 2));
  // 3..5 went missing on the way: 6 comes next.
  live(p, msg('lobby', 6));
  const fill = p.one('history');
  assert.ok(fill.type === 'history');
  assert.equal(fill.before, 6);
  assert.equal(fill.limit, 3);
  // 4 turns up live before the fill is answered, then 6 again.
  live(p, msg('lobby', 4));
  live(p, msg('lobby', 6));
  p.result(fill, {
    of: 'history',
    room: 'lobby',
    messages: [msg('lobby', 3), msg('lobby', 4), msg('lobby', 5)],
    more: true,
  });
  live(p, msg('lobby', 7));
  assert.deepEqual(p.view.log.seqs('lobby'), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(p.take().filter((r) => r.type === 'history').length, 0, 'the gap is closed');
  assert.equal(p.view.announced.filter((a) => a === 'bob: m6').length, 1, 'm6 announced once');
  // A late one below what the room has is shown like history, not announced.
  assert.equal(p.view.announced.filter((a) => a === 'bob: m4').length, 0);
});

test('a gap marker on resume pages history back over the missing range', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 0);
  live(p, msg('lobby', 1));
  p.disconnect();
  p.handshake();
  p.joinAnswer('lobby', 200);
  p.take();
  p.emit({ type: 'gap', room: 'lobby', after: 1, before: 120 });
  const page1 = p.one('history');
  assert.ok(page1.type === 'history');
  assert.deepEqual([page1.before, page1.limit], [120, 50]);
  const first = Array.from({ length: 50 }, (_, i) => msg('lobby', 70 + i));
  p.result(page1, { of: 'history', room: 'lobby', messages: first, more: true });
  const page2 = p.one('history');
  assert.ok(page2.type === 'history');
  assert.deepEqual([page2.before, page2.limit], [70, 50]);
});

test('sends typed while offline go out after the reconnect, in the order typed', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.take();
  p.disconnect();
  for (const t of ['one', 'two', 'three']) assert.equal(p.chat.submit(t), true);
  assert.deepEqual(
    p.view.pending.map((e) => e.text),
    ['one', 'two', 'three'],
  );
  assert.equal(p.sent.length, 0, 'nothing goes while offline');
  p.handshake();
  const sent = p.take();
  assert.deepEqual(
    sent.map((r) => (r.type === 'send' ? r.text : r.type)),
    ['join', 'one', 'two', 'three'],
  );
  // Acks empty the outbox; a resend after another drop would carry the same cids.
  for (const s of sent) {
    if (s.type === 'send') {
      p.emit({ type: 'ack', id: s.id, room: 'lobby', cid: s.cid, seq: 1, ts: 1 });
    }
  }
  assert.deepEqual(p.view.pending, []);
});

test('an unacknowledged send is sent again with the same cid after a reconnect', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.take();
  p.chat.submit('hello');
  const first = p.one('send');
  p.disconnect();
  p.handshake();
  p.one('join');
  const again = p.one('send');
  assert.ok(first.type === 'send' && again.type === 'send');
  assert.equal(again.cid, first.cid);
  assert.equal(again.text, 'hello');
});

test('a send refused for the rate waits, then goes again with the same cid, before later ones', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.take();
  p.chat.submit('a');
  p.chat.submit('b');
  const [a, b] = p.take();
  assert.ok(a?.type === 'send' && b?.type === 'send');
  p.emit({ type: 'error', id: a.id, code: 'RATE_LIMITED', message: 'Slow down.' });
  p.emit({ type: 'ack', id: b.id, room: 'lobby', cid: b.cid, seq: 1, ts: 1 });
  p.chat.submit('c');
  assert.equal(p.sent.length, 0, 'held while refused');
  mock.timers.tick(3100);
  const resent = p.take();
  assert.deepEqual(
    resent.map((r) => (r.type === 'send' ? r.text : r.type)),
    ['a', 'c'],
  );
  assert.ok(resent[0]?.type === 'send');
  assert.equal(resent[0].cid, a.cid);
});

test('a send refused for good keeps its error until Retry, which sends it again', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.take();
  p.chat.submit('x');
  const s = p.one('send');
  assert.ok(s.type === 'send');
  p.emit({ type: 'error', id: s.id, code: 'NOT_IN_ROOM', message: 'You are not in that room.' });
  assert.equal(p.view.pending[0]?.error, 'You are not in that room.');
  mock.timers.tick(10_000);
  assert.equal(p.take().filter((r) => r.type === 'send').length, 0, 'not retried by itself');
  p.chat.retry(s.cid);
  const again = p.one('send');
  assert.ok(again.type === 'send');
  assert.equal(again.cid, s.cid);
});

test('/nick changes the name: hello with the token, the new name saved and shown', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.take();
  p.chat.submit('/nick bea');
  const hello = p.one('hello');
  assert.ok(hello.type === 'hello');
  assert.deepEqual([hello.name, hello.token], ['bea', TOKEN]);
  p.result(hello, { of: 'hello', name: 'bea', token: TOKEN, userId: 'u_bea', direct: [] });
  assert.equal(p.view.me, 'bea');
  assert.deepEqual(p.storage.identity, { name: 'bea', token: TOKEN });
  assert.ok(p.view.announced.includes('You are now known as bea.'));
  // The next connection claims the new name.
  p.disconnect();
  p.connect();
  const next = p.one('hello');
  assert.ok(next.type === 'hello');
  assert.equal(next.name, 'bea');
});

test('a name taken in the prompt says so there; asked offline, it is taken once connected', () => {
  const p = new Page();
  p.chat.submitName('carl');
  assert.equal(p.sent.length, 0);
  p.handshake();
  const hello = p.one('hello');
  assert.ok(hello.type === 'hello');
  assert.equal(hello.name, 'carl');
  p.emit({ type: 'error', id: hello.id, code: 'NAME_TAKEN', message: 'That name is taken.' });
  assert.match(p.view.nameError, /Someone connected right now is called carl/);
  assert.equal(p.view.me, 'ada');
});

test('a refused stored name falls back to the token alone', () => {
  const p = new Page();
  p.connect();
  const hello = p.one('hello');
  p.emit({ type: 'error', id: hello.id, code: 'NAME_RESERVED', message: 'Reserved.' });
  const next = p.one('hello');
  assert.ok(next.type === 'hello');
  assert.equal(next.name, undefined);
  assert.equal(next.token, TOKEN);
  assert.equal(p.view.namePromptOpen, true);
});

test('a request left unanswered with nothing heard drops the connection; a quiet one is pinged', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.take();
  mock.timers.tick(13_000);
  const ping = p.one('ping');
  p.result(ping, { of: 'ping' });
  assert.equal(p.drops, 0);
  mock.timers.tick(13_000);
  p.one('ping');
  // This one is not answered.
  mock.timers.tick(6_000);
  assert.equal(p.drops, 1);
  assert.equal(p.open, false);
});

// Compile-time checks: `npm run typecheck` fails if any of these stops being an error.
export function typeChecks(on: ReplyHandlers): void {
  // @ts-expect-error a join reply handler cannot take a history result
  const wrongResult: ReplyHandlers['join'] = (ev: ResultOf<'history'>) => void ev.messages;
  // @ts-expect-error a join request has no history context
  const wrongContext: Pending<'join'> = { req: { type: 'join', room: 'x' }, history: 'gap' };
  on.join(
    { type: 'result', of: 'join', room: 'x', lastSeq: 0, members: [], memberCount: 0 },
    // @ts-expect-error the join handler's context is a join's
    { req: { type: 'who', room: 'x' } },
  );
  void wrongResult;
  void wrongContext;
}

test('a message in another room counts as unread; one naming me counts as a mention', () => {
  const p = new Page({ name: 'ada', token: TOKEN }, ['lobby', 'dev']);
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.joinAnswer('dev', 0);
  p.take();
  live(p, msg('dev', 1, 'bob', 'hi all'));
  live(p, msg('dev', 2, 'bob', '@ada look'));
  live(p, msg('dev', 2, 'bob', '@ada look'));
  live(p, msg('lobby', 1, 'bob', 'here'));
  const dev = p.view.rooms.find((r) => r.name === 'dev');
  const lobby = p.view.rooms.find((r) => r.name === 'lobby');
  assert.deepEqual([dev?.unread, dev?.mentions], [2, 1]);
  assert.deepEqual([lobby?.unread, lobby?.mentions], [0, 0], 'the room shown is being read');
  assert.ok(p.view.announced.includes('In #dev, bob: @ada look'));
  p.chat.switchTo('dev');
  const seen = p.view.rooms.find((r) => r.name === 'dev');
  assert.deepEqual([seen?.unread, seen?.mentions], [0, 0]);
});

test('typing is told at most every three seconds, and sooner after a send', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.take();
  p.chat.typed('h');
  p.chat.typed('he');
  assert.equal(p.take().filter((r) => r.type === 'typing').length, 1);
  mock.timers.tick(3000);
  p.chat.typed('hel');
  assert.equal(p.take().filter((r) => r.type === 'typing').length, 1);
  p.chat.submit('hello');
  p.take();
  mock.timers.tick(1000);
  p.chat.typed('n');
  assert.equal(p.take().filter((r) => r.type === 'typing').length, 1, 'a second after a send');
  // After a reconnect the room is not live until its join is answered: no typing goes.
  p.disconnect();
  p.handshake();
  const join = p.one('join');
  mock.timers.tick(3000);
  p.chat.typed('again');
  assert.equal(p.take().filter((r) => r.type === 'typing').length, 0, 'not before the join result');
  p.result(join, { of: 'join', room: 'lobby', lastSeq: 1, members: ['ada'], memberCount: 1 });
  p.chat.typed('again!');
  assert.equal(p.take().filter((r) => r.type === 'typing').length, 1, 'once joined again');
});

test('/msg sends to the direct room and its line says when it was sent', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.take();
  assert.equal(p.chat.submit('/msg bob hi there'), true);
  const s = p.one('send');
  assert.ok(s.type === 'send');
  assert.deepEqual([s.room, s.text], ['@bob', 'hi there']);
  assert.ok(p.view.log.said('Sending to @bob…'));
  p.emit({ type: 'ack', id: s.id, room: '@bob', cid: s.cid, seq: 1, ts: 1 });
  assert.ok(p.view.log.said('Sent to @bob.'));
  assert.ok(p.view.rooms.some((r) => r.name === '@bob' && r.joined));
});

test('a message over the limit stays in the box with the reason, and nothing goes', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.take();
  assert.equal(p.chat.submit('x'.repeat(17_000)), false);
  assert.ok(p.view.log.said('Too long to send: 16.7 KB, 0.7 KB over the 16 KB limit.'));
  assert.deepEqual(p.view.pending, []);
  assert.equal(p.sent.length, 0);
});

test('account and room commands send their requests on the current room', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.take();
  p.chat.submit('/login ada s3cret-pass');
  p.chat.submit('/password old-pass new-pass1');
  p.chat.submit('/topic plans for today');
  p.chat.submit('/room private');
  p.chat.submit('/ban bob 2h too loud');
  p.chat.submit('/logout all');
  const sent = p.take().map(({ id: _, ...r }) => r);
  assert.deepEqual(sent, [
    { type: 'login', name: 'ada', password: 's3cret-pass' },
    { type: 'password', password: 'new-pass1', old: 'old-pass' },
    { type: 'settings', room: 'lobby', topic: 'plans for today' },
    { type: 'settings', room: 'lobby', visibility: 'private' },
    {
      type: 'moderate',
      room: 'lobby',
      action: 'ban',
      name: 'bob',
      duration: '2h',
      reason: 'too loud',
    },
    { type: 'logout', everywhere: true },
  ]);
});

test('a sign-in keeps the session token and role; signing out forgets them and rooms go', () => {
  const p = new Page({ token: TOKEN }, ['lobby', 'dev']);
  p.handshake('guest-0123456789');
  p.take();
  p.chat.access.signIn('ada', 'correct horse');
  const login = p.one('login');
  p.result(login, {
    of: 'login',
    name: 'ada',
    token: 'b'.repeat(40),
    userId: 'u_ada',
    role: 'admin',
    direct: ['@bob'],
    rooms: [],
  });
  assert.deepEqual(p.storage.identity, { name: 'ada', token: 'b'.repeat(40), role: 'admin' });
  assert.equal(p.chat.access.role, 'admin');
  assert.ok(p.view.rooms.some((r) => r.name === '@bob'));
  assert.ok(p.view.log.said('Signed in as ada.'));

  p.chat.access.signOut(false);
  const logout = p.one('logout');
  p.result(logout, { of: 'logout', ended: 1 });
  // A fresh token, no name, no role: the next hello makes a guest.
  const hello = p.one('hello');
  assert.equal(hello.name, undefined);
  assert.ok(hello.token && hello.token !== 'b'.repeat(40));
  assert.deepEqual(p.storage.identity, { token: hello.token });
  assert.equal(p.chat.access.role, null);
  assert.deepEqual(
    p.view.rooms.map((r) => r.name),
    ['lobby'],
  );
  assert.ok(p.view.log.said('Signed out.'));
});

test('a kick or ban takes the room out of the list and says why', () => {
  const p = new Page({ name: 'ada', token: TOKEN }, ['lobby', 'dev']);
  p.handshake();
  p.joinAnswer('lobby', 0);
  p.joinAnswer('dev', 0);
  p.emit({ type: 'notice', what: 'banned', room: 'dev', by: 'bob', reason: 'spam' });
  assert.deepEqual(
    p.view.rooms.map((r) => r.name),
    ['lobby'],
  );
  assert.ok(p.view.log.said('You were banned from #dev by bob (spam).'));
  assert.ok(p.view.announced.includes('You were banned from #dev by bob (spam).'));
  assert.deepEqual(p.storage.rooms?.rooms, ['lobby']);
});

test('an ended session makes the next connection a guest', () => {
  const p = new Page({ name: 'ada', token: TOKEN, role: 'member' });
  p.handshake();
  p.take();
  p.open = false;
  p.chat.onClose(4001, 'SESSION_ENDED');
  assert.ok(p.view.log.said('This session was ended; sign in again. Reconnecting…'));
  p.connect();
  const hello = p.one('hello');
  assert.equal(hello.name, undefined);
  assert.notEqual(hello.token, TOKEN);
});

test('read markers: the server counts what is unread, the page adds what comes, and a room seen is marked read', () => {
  const p = new Page({ name: 'ada', token: TOKEN }, ['lobby', 'dev']);
  p.handshake();
  const reads = () => p.take().flatMap((r) => (r.type === 'read' ? [[r.room, r.seq]] : []));
  const counts = (room: string) => {
    const r = p.view.rooms.find((x) => x.name === room);
    return [r?.unread, r?.mentions, r?.unreadMore ?? false];
  };
  p.result(p.one('join'), {
    of: 'join',
    room: 'lobby',
    lastSeq: 0,
    members: ['ada'],
    memberCount: 1,
    read: { seq: 0, unread: 0, mentions: 0, upTo: 0 },
  });
  p.result(p.one('join'), {
    of: 'join',
    room: 'dev',
    lastSeq: 300,
    members: ['ada'],
    memberCount: 1,
    read: { seq: 100, unread: 180, mentions: 1, upTo: 300 },
  });
  assert.deepEqual(counts('dev'), [180, 1, false]);
  // The first page reaches back to the marker, as far as a page goes.
  const page = p.one('history');
  assert.ok(page.type === 'history' && page.room === 'dev');
  assert.equal(page.limit, 200);
  p.result(page, {
    of: 'history',
    room: 'dev',
    messages: [msg('dev', 299), msg('dev', 300)],
    more: true,
  });
  // What comes after the server's count adds to it; what it counted already does not.
  live(p, msg('dev', 300));
  live(p, msg('dev', 301, 'bob', 'hey @ada'));
  live(p, msg('dev', 302, 'ada', 'my own'));
  assert.deepEqual(counts('dev'), [181, 2, false]);
  assert.deepEqual(reads(), [], 'not seen: another room is shown');

  // Opened at the bottom, the tab visible: seen, at once; the "new" line is where reading stopped.
  p.chat.switchTo('dev');
  assert.equal(p.view.log.newAfter.get('dev'), 100);
  assert.deepEqual(reads(), [['dev', 302]]);
  assert.deepEqual(counts('dev'), [0, 0, false]);
  // A burst of moves is one request a second, the last move of it included.
  live(p, msg('dev', 303));
  live(p, msg('dev', 304));
  assert.deepEqual(reads(), []);
  mock.timers.tick(1000);
  assert.deepEqual(reads(), [['dev', 304]]);
  // Scrolled up, a new message is not seen: it counts, and nothing is sent.
  p.view.log.bottom = false;
  live(p, msg('dev', 305));
  mock.timers.tick(5000);
  assert.deepEqual(reads(), []);
  assert.deepEqual(counts('dev'), [1, 0, false]);
  p.view.log.bottom = true;
  p.chat.seen();
  assert.deepEqual(reads(), [['dev', 305]]);

  // Another session of mine read the lobby: its count is the server's, plus what came after.
  for (const seq of [1, 2, 3]) live(p, msg('lobby', seq));
  assert.deepEqual(counts('lobby'), [3, 0, false]);
  p.emit({ type: 'read', room: 'lobby', seq: 2, unread: 1, mentions: 0, upTo: 3 });
  assert.deepEqual(counts('lobby'), [1, 0, false]);
  live(p, msg('lobby', 4, 'bob', '@ada, lobby'));
  assert.deepEqual(counts('lobby'), [2, 1, false]);
  p.emit({ type: 'read', room: 'lobby', seq: 1, unread: 3, mentions: 0, upTo: 3 });
  assert.deepEqual(counts('lobby'), [2, 1, false], 'an older move changes nothing');
  p.emit({
    type: 'read',
    room: 'lobby',
    seq: 600,
    unread: 500,
    mentions: 0,
    upTo: 1200,
    more: true,
  });
  assert.deepEqual(counts('lobby'), [500, 0, true]);
});

test('read markers: a hidden tab reads nothing; a move the connection lost goes once back', () => {
  const p = new Page({ name: 'ada', token: TOKEN }, ['lobby']);
  const reads = () => {
    const out = p.sent.flatMap((r) => (r.type === 'read' ? [r.seq] : []));
    p.sent = p.sent.filter((r) => r.type !== 'read');
    return out;
  };
  const unread = () => p.view.rooms.find((x) => x.name === 'lobby')?.unread;
  p.handshake();
  p.result(p.one('join'), {
    of: 'join',
    room: 'lobby',
    lastSeq: 2,
    members: ['ada'],
    memberCount: 1,
    read: { seq: 1, unread: 1, mentions: 0, upTo: 2 },
  });
  assert.equal(p.view.log.newAfter.get('lobby'), 1, 'the room shown on load gets its line');
  assert.deepEqual(reads(), [], 'nothing is seen before the messages are there');
  p.result(p.one('history'), {
    of: 'history',
    room: 'lobby',
    messages: [msg('lobby', 1), msg('lobby', 2)],
    more: false,
  });
  assert.deepEqual(reads(), [2]);
  mock.timers.tick(1000);
  p.hidden = true;
  live(p, msg('lobby', 3));
  mock.timers.tick(1000);
  assert.deepEqual([reads(), unread()], [[], 1]);
  p.hidden = false;
  p.chat.onVisible();
  assert.deepEqual([reads(), unread()], [[3], 0]);
  // Seen within the second: it waits for the second, and the connection goes first.
  live(p, msg('lobby', 4));
  p.disconnect();
  mock.timers.tick(1000);
  assert.deepEqual(reads(), []);
  p.handshake();
  const join = p.one('join');
  assert.ok(join.type === 'join' && join.since === 4);
  assert.deepEqual(reads(), [4]);
  p.result(join, {
    of: 'join',
    room: 'lobby',
    lastSeq: 4,
    members: ['ada'],
    memberCount: 1,
    read: { seq: 3, unread: 1, mentions: 0, upTo: 4 },
  });
  assert.equal(unread(), 0, 'the move the server has not had yet holds');
  assert.deepEqual(reads(), []);
});

// ---- a message's life: edits, removals, reactions, replies ----------------------------------

function change(seq: number, target: number, from = 'bob') {
  return { room: 'lobby', seq, cid: `x${seq}`, from, ts: 5000 + seq, target };
}

/** A page in the lobby showing messages 1..n (ada wrote the odd ones, bob the even). */
function lobbyWith(n: number): Page {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', n);
  if (n > 0) {
    const latest = p.one('history');
    const messages = Array.from({ length: n }, (_, i) =>
      msg('lobby', i + 1, i % 2 ? 'bob' : 'ada'),
    );
    p.result(latest, { of: 'history', room: 'lobby', messages, more: false });
  }
  p.take();
  return p;
}

test('edits, removals and reactions change the message shown, and count in the room’s order', () => {
  const p = lobbyWith(2);
  p.emit({ type: 'edit', ...change(3, 1, 'ada'), text: 'm1, fixed' });
  p.emit({ type: 'reaction', ...change(4, 1), emoji: '👍', on: true });
  p.emit({ type: 'reaction', ...change(5, 1, 'cy'), emoji: '👍', on: true });
  p.emit({ type: 'delete', ...change(6, 2) });
  // The same reaction replayed (a resume crossing it): counted once.
  p.emit({ type: 'reaction', ...change(4, 1), emoji: '👍', on: true });
  const m1 = p.view.log.state('lobby', 1);
  assert.deepEqual(
    [m1?.text, m1?.edited, m1?.reactions],
    ['m1, fixed', 5003, [{ emoji: '👍', count: 2, by: ['bob', 'cy'] }]],
  );
  assert.deepEqual(
    [p.view.log.state('lobby', 2)?.removed, p.view.log.state('lobby', 2)?.text],
    [true, ''],
  );
  assert.deepEqual(p.view.log.seqs('lobby'), [1, 2], 'no line added for a change');
  // Their seqs were the room's: the next message follows on, no gap to fill.
  live(p, msg('lobby', 7));
  assert.equal(p.take().filter((r) => r.type === 'history').length, 0);
  p.disconnect();
  p.handshake();
  const join = p.joinAnswer('lobby', 7);
  assert.ok(join.type === 'join');
  assert.equal(join.since, 7, 'a resume asks from the last change too');
});

test('a change that comes before its message’s page of history is shown with it', () => {
  const p = new Page();
  p.handshake();
  p.joinAnswer('lobby', 1);
  const latest = p.one('history');
  // The page was read before the edit committed; the edit's event overtakes the reply.
  p.emit({ type: 'edit', ...change(2, 1, 'ada'), text: 'new' });
  p.result(latest, {
    of: 'history',
    room: 'lobby',
    messages: [msg('lobby', 1, 'ada')],
    more: false,
  });
  assert.equal(p.view.log.state('lobby', 1)?.text, 'new');
  // And a page that brings a message already shown brings its reactions (a live message has none).
  live(p, msg('lobby', 3));
  p.chat.submit('/history 5');
  const h = p.one('history');
  const again = { ...msg('lobby', 3), reactions: [{ emoji: '🎉', count: 1, by: ['cy'] }] };
  p.result(h, { of: 'history', room: 'lobby', messages: [again], more: false });
  assert.deepEqual(p.view.log.state('lobby', 3)?.reactions, [
    { emoji: '🎉', count: 1, by: ['cy'] },
  ]);
});

test('past the replay bound, `changes` brings the held messages up to date, page after page', () => {
  const p = lobbyWith(3);
  p.disconnect();
  p.handshake();
  p.joinAnswer('lobby', 900);
  p.take();
  p.emit({ type: 'gap', room: 'lobby', after: 3, before: 800 });
  const ask = p.one('changes');
  assert.deepEqual([ask.room, ask.since, ask.before], ['lobby', 3, 4]);
  p.result(ask, {
    of: 'changes',
    room: 'lobby',
    messages: [{ ...msg('lobby', 1, 'ada'), text: 'edited', edited: 6000 }, msg('lobby', 99)],
    upTo: 500,
    more: true,
  });
  assert.equal(p.view.log.state('lobby', 1)?.text, 'edited');
  assert.equal(p.view.log.state('lobby', 99), undefined, 'a message not held is not shown');
  const next = p.one('changes');
  assert.deepEqual([next.since, next.before], [500, 4]);
  p.result(next, {
    of: 'changes',
    room: 'lobby',
    messages: [{ ...msg('lobby', 2, 'bob'), text: '', removed: true }],
    upTo: 900,
    more: false,
  });
  assert.equal(p.view.log.state('lobby', 2)?.removed, true);
  assert.equal(p.take().filter((r) => r.type === 'changes').length, 0, 'done');
});

test('/edit, /delete and /react act on the last message through the outbox, exactly once', () => {
  const p = lobbyWith(4);
  // ada's last is 3.
  assert.equal(p.chat.submit('/edit m3 fixed'), true);
  const e = p.one('edit');
  assert.deepEqual([e.room, e.seq, e.text], ['lobby', 3, 'm3 fixed']);
  assert.equal(p.view.pending[0]?.act?.kind, 'edit', 'pending until acked');
  p.emit({ type: 'ack', id: e.id, room: 'lobby', cid: e.cid, seq: 5, ts: 1 });
  assert.deepEqual(p.view.pending, []);

  // Offline: the reaction waits, then goes once, with its cid, after the reconnect.
  p.disconnect();
  assert.equal(p.chat.submit('/react 🎉'), true);
  assert.equal(p.sent.length, 0);
  p.handshake();
  p.one('join');
  const r = p.one('react');
  assert.deepEqual([r.seq, r.emoji], [4, '🎉'], 'the last message, anyone’s');
  p.disconnect();
  p.handshake();
  p.one('join');
  const again = p.one('react');
  assert.equal(again.cid, r.cid, 'sent again with the same cid: the server keeps it once');
  // Its own event comes back before the ack: done too.
  p.emit({ type: 'reaction', ...change(6, 4, 'ada'), cid: r.cid, emoji: '🎉', on: true });
  assert.deepEqual(p.view.pending, []);

  assert.equal(p.chat.submit('/delete'), true);
  assert.equal(p.one('delete').seq, 3);
  assert.equal(p.chat.submit('/delete 2'), true);
  assert.equal(p.one('delete').seq, 2, 'a seq given: the server judges whose it is');
});

test('a change refused is said and dropped, and the message stays as it was', () => {
  const p = lobbyWith(2);
  p.chat.acts.remove('lobby', 2);
  const d = p.one('delete');
  p.emit({
    type: 'error',
    id: d.id,
    code: 'NOT_YOUR_MESSAGE',
    message: 'Only your own messages are yours to change.',
  });
  assert.ok(p.view.log.said('The message was not removed: Only your own messages'));
  assert.ok(p.view.announced.some((a) => a.startsWith('The message was not removed')));
  assert.deepEqual(p.view.pending, [], 'not left to retry');
  assert.equal(p.view.log.state('lobby', 2)?.removed, undefined);
  mock.timers.tick(10_000);
  assert.equal(p.take().length, 0, 'not sent again');

  // Not an emoji: refused at once, nothing queued.
  assert.equal(p.chat.submit('/react yes'), false);
  assert.ok(p.view.log.said('A reaction is one emoji.'));
  assert.deepEqual(p.view.pending, []);
  // None of mine: said.
  const q = lobbyWith(0);
  assert.equal(q.chat.submit('/edit hello'), false);
  assert.ok(q.view.log.said('You have no message here to change.'));
});

test('a reply carries what it answers, from the menu or /reply; Up edits my last message', () => {
  const p = lobbyWith(3);
  p.chat.acts.reply('lobby', 2);
  assert.equal(p.view.replying?.seq, 2);
  p.chat.submit('sure');
  const s = p.one('send');
  assert.deepEqual([s.text, s.replyTo], ['sure', 2]);
  assert.equal(p.view.replying, undefined, 'the reply is done');
  p.chat.submit('no reply');
  assert.equal(p.one('send').replyTo, undefined);
  p.chat.submit('/reply 1 to the first');
  const r = p.one('send');
  assert.deepEqual([r.text, r.replyTo], ['to the first', 1]);
  // A reply started in one room does not follow into another.
  p.chat.acts.reply('lobby', 2);
  p.chat.joinRoom('dev');
  assert.equal(p.view.replying, undefined);
  p.chat.switchTo('lobby');

  assert.equal(p.chat.acts.editLast(), true);
  assert.deepEqual(p.view.log.editing, [['lobby', 3]]);
});

test('a reply to a message not shown fetches that one message for its quote, apart from the log', () => {
  const p = lobbyWith(0);
  p.chat.acts.wantQuote('lobby', 40);
  p.chat.acts.wantQuote('lobby', 40);
  const h = p.one('history');
  assert.deepEqual([h.before, h.limit], [41, 1]);
  assert.equal(p.take().length, 0, 'asked once');
  p.result(h, { of: 'history', room: 'lobby', messages: [msg('lobby', 40, 'cy')], more: true });
  assert.equal(p.view.log.message('lobby', 40)?.from, 'cy');
  assert.deepEqual(p.view.log.seqs('lobby'), [], 'not put in the log');
  assert.notEqual(p.view.log.older.get('lobby'), 'more', 'paging is not changed by it');
  // A change to it reaches the quote.
  p.emit({ type: 'delete', ...change(50, 40, 'cy') });
  assert.equal(p.view.log.message('lobby', 40)?.removed, true);
});

test('a crowded room shows the names it was given and counts everyone', () => {
  const p = new Page();
  p.handshake();
  const join = p.one('join');
  p.result(join, {
    of: 'join',
    room: 'lobby',
    lastSeq: 0,
    members: ['ada', 'bob'],
    memberCount: 350,
  });
  assert.deepEqual(p.view.members, { names: ['ada', 'bob'], count: 350 });
  p.emit({ type: 'presence', room: 'lobby', name: 'cy', event: 'join' });
  assert.deepEqual(p.view.members, { names: ['ada', 'bob', 'cy'], count: 351 });
  p.emit({ type: 'presence', room: 'lobby', name: 'dee', event: 'leave' });
  assert.equal(p.view.members?.count, 350, 'someone not listed left');
  p.emit({ type: 'presence', room: 'lobby', name: 'ada', event: 'join' });
  assert.equal(p.view.members?.count, 350, 'a name already listed is not counted twice');
});

test('one notice of several arrivals, or departures, lists and counts each of them', () => {
  const p = new Page();
  p.handshake();
  const join = p.one('join');
  p.result(join, { of: 'join', room: 'lobby', lastSeq: 0, members: ['ada'], memberCount: 1 });
  p.emit({ type: 'presence', room: 'lobby', name: 'bob', event: 'join', others: ['cy', 'dee'] });
  assert.deepEqual(p.view.members, { names: ['ada', 'bob', 'cy', 'dee'], count: 4 });
  p.emit({ type: 'presence', room: 'lobby', name: 'bob', event: 'leave', others: ['dee'] });
  assert.deepEqual(p.view.members, { names: ['ada', 'cy'], count: 2 });
});
