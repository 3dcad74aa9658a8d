// The page's chat logic piece by piece, without a browser: the room roster and the naming,
// each with a fake view and storage.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HelloRequest } from '../src/protocol/index.js';
import { noticeText, powers, ticketLink } from '../src/client/access.js';
import { passwordProblem } from '../src/client/access-view.js';
import { Naming } from '../src/client/naming.js';
import { Roster } from '../src/client/roster.js';
import type { RoomList } from '../src/client/storage.js';
import type { RoomItem } from '../src/client/view.js';

function roster(saved: RoomList, closed = new Set<string>(), wanted: string[] = []) {
  const seen = { items: [] as RoomItem[], current: '', shown: '', saved: [] as RoomList[] };
  const closedSaved: string[][] = [];
  const r = new Roster(
    {
      setRooms: (items, current) => {
        seen.items = items;
        seen.current = current;
      },
      showRoom: (room) => (seen.shown = room),
    },
    { saveRooms: (l) => seen.saved.push(l), saveClosed: (c) => closedSaved.push([...c]) },
    saved,
    closed,
    wanted,
  );
  return { r, seen, closedSaved };
}

test('the roster restores the rooms remembered, the ones sends wait for, and the current one', () => {
  const { r, seen } = roster({ rooms: ['lobby', 'Dev', '#bad name'], current: 'dev' }, new Set(), [
    'ops',
  ]);
  assert.deepEqual(
    r.all().map((x) => [x.name, x.joined]),
    [
      ['lobby', true],
      ['dev', true],
      ['ops', true],
    ],
  );
  assert.equal(r.current, 'dev');
  assert.equal(seen.shown, 'dev');
  assert.deepEqual(seen.saved.at(-1), { rooms: ['lobby', 'dev', 'ops'], current: 'dev' });
});

test('an unknown current room falls back to the lobby', () => {
  const { r } = roster({ rooms: ['dev'], current: 'no such room!' });
  assert.equal(r.current, 'lobby');
});

test('selecting a room makes it current; stepping goes rooms first, then people, around', () => {
  const { r, seen } = roster({ rooms: ['lobby', 'dev'], current: 'lobby' });
  r.room('@bob').want();
  const dev = r.room('dev');
  dev.unread = 3;
  // Its counts go when it is seen, by the read marker (client-logic.test.ts), not on a click.
  r.select('dev');
  assert.equal(dev.unread, 3);
  assert.equal(seen.current, 'dev');
  assert.equal(r.neighbour(1), '@bob');
  r.select('@bob');
  assert.equal(r.neighbour(1), 'lobby');
  assert.equal(r.neighbour(-1), 'dev');
});

test('a removed room leaves the list; the fallback is the first joined room, else the lobby', () => {
  const { r, seen } = roster({ rooms: ['dev', 'ops'], current: 'dev' });
  assert.equal(r.remove('dev'), true);
  assert.equal(r.remove('dev'), false);
  assert.deepEqual(
    seen.items.map((x) => x.name),
    ['ops'],
  );
  assert.equal(r.fallback(), 'ops');
  r.get('ops')?.unwant();
  assert.equal(r.fallback(), 'lobby');
});

test('closing a direct conversation is remembered; reopening forgets it', () => {
  const { r, closedSaved } = roster({ rooms: [], current: 'lobby' });
  r.close('@bob');
  assert.equal(r.isClosed('@bob'), true);
  r.reopen('@bob');
  r.reopen('@bob');
  assert.equal(r.isClosed('@bob'), false);
  assert.deepEqual(closedSaved, [['@bob'], []]);
});

function naming(ready: boolean) {
  const hellos: HelloRequest[] = [];
  const notes: string[] = [];
  const state = { ready, open: false, me: '' };
  const n = new Naming({
    view: {
      nameInput: { focus: () => {} },
      get namePromptOpen() {
        return state.open;
      },
      setMe: (self) => (state.me = self.name),
      openNamePrompt: () => (state.open = true),
      closeNamePrompt: () => (state.open = false),
      setNameError: (t) => notes.push(`error: ${t}`),
      setNameBusy: (_busy, note) => notes.push(`busy: ${note ?? ''}`),
    },
    storage: { saveIdentity: () => {}, skipName: () => {} },
    identity: { token: 't'.repeat(32) },
    hello: (req) => {
      if (!state.ready) return false;
      hellos.push(req);
      return true;
    },
    ready: () => state.ready,
    say: () => {},
  });
  return { n, hellos, notes, state };
}

test('a name asked for offline is taken once the hello is answered', () => {
  const { n, hellos, notes, state } = naming(false);
  assert.equal(state.me, '', 'no name yet (the view shows …)');
  n.submit('Ada');
  assert.deepEqual(hellos, []);
  assert.match(notes.at(-1) ?? '', /Waiting for the connection/);
  state.ready = true;
  n.ready();
  assert.deepEqual(hellos, [{ type: 'hello', name: 'Ada', token: 't'.repeat(32) }]);
  assert.equal(n.named('Ada', 'u'.repeat(32), 'u_ada'), '');
  assert.equal(n.me, 'Ada');
  assert.equal(n.chosen, true);
});

test('the prompt refuses a guest name and an invalid one without asking the server', () => {
  const { n, hellos, notes } = naming(true);
  n.submit('guest-7');
  n.submit('   ');
  assert.deepEqual(hellos, []);
  assert.equal(notes.filter((x) => x.startsWith('error: ')).length, 2);
});

test('links in the fragment: setup, invite and reset codes, nothing else', () => {
  assert.deepEqual(ticketLink('#setup=AbC-_1'), { kind: 'setup', code: 'AbC-_1' });
  assert.deepEqual(ticketLink('#invite=xyz'), { kind: 'invite', code: 'xyz' });
  assert.deepEqual(ticketLink('#reset=q'), { kind: 'reset', code: 'q' });
  for (const h of ['', '#', '#invite=', '#other=x', '#invite=a b', 'invite=x']) {
    assert.equal(ticketLink(h), undefined, h);
  }
});

test('powers follow the server policy: server moderators outrank any room owner', () => {
  assert.deepEqual(powers(null, 'owner'), { moderate: false, own: false });
  assert.deepEqual(powers('member', undefined), { moderate: false, own: false });
  assert.deepEqual(powers('member', 'moderator'), { moderate: true, own: false });
  assert.deepEqual(powers('member', 'owner'), { moderate: true, own: true });
  assert.deepEqual(powers('moderator', undefined), { moderate: true, own: true });
});

test('notices in words', () => {
  assert.equal(
    noticeText({ type: 'notice', what: 'kicked', room: 'dev', by: 'bob' }),
    'You were removed from #dev by bob. You may join it again.',
  );
  assert.equal(
    noticeText({ type: 'notice', what: 'role', role: 'admin' }),
    'Your role in this server is now admin.',
  );
  assert.equal(
    noticeText({ type: 'notice', what: 'invited', room: 'x', by: 'ada' }),
    'ada invited you to #x: it is in your rooms.',
  );
  assert.equal(passwordProblem('short'), 'A password has at least 8 characters.');
  assert.equal(passwordProblem(' leading space'), 'A password cannot start or end with a space.');
  assert.equal(passwordProblem('good password'), '');
});
