// One contract for every MessageStore adapter: a new backend is a new file plus one line at the
// bottom of this suite. Each test gets a fresh database (a temp file, a fresh schema).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { FOREVER, type Claim, type ServerRole } from '../src/core/directory.js';
import { searchTerms } from '../src/core/search-terms.js';
import { nameSkeleton } from '../src/protocol/skeleton.js';
import type { LogEntry } from '../src/protocol/index.js';
import type { MessageDraft, MessageStore } from '../src/store/index.js';
import type { ChangeDraft } from '../src/core/ports.js';
import { openStore } from '../src/store/open-store.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { POSTGRES_URL, postgresPool, requirePostgres, uniqueSuffix } from './services.js';

/** One database for one test. Every open() is another connection to it, as another node. */
interface StoreHarness {
  open(): Promise<MessageStore>;
  /** Closes whatever is still open and removes the database. */
  cleanup(): Promise<void>;
  /** Writes a message's text, or deletes its row, behind the store's back (as an edit would). */
  rewrite(room: string, seq: number, body: string | null): Promise<void>;
}

const NOW = 1_700_000_000_000;

/** The rooms with their last numbers only, where the time of the last message is beside the point. */
function roomSeqs(rooms: { room: string; lastSeq: number }[]): { room: string; lastSeq: number }[] {
  return rooms.map(({ room, lastSeq }) => ({ room, lastSeq }));
}

/** The text of an entry: a message's or an edit's; '' for other kinds. */
const text = (e: LogEntry): string => ('text' in e ? e.text : '');

let cidCounter = 0;
function draft(room: string, text: string, extra: Partial<MessageDraft> = {}): MessageDraft {
  return { room, cid: `c${++cidCounter}`, from: 'ann', fromId: 'u_ann', text, me: false, ...extra };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A user with a first name; the id and display follow from the key unless given. */
function makeUser(
  store: MessageStore,
  key: string,
  extra: { id?: string; role?: ServerRole; passwordHash?: string | null } = {},
): Promise<Claim> {
  return store.createUser({
    id: extra.id ?? `u_${key}`,
    key,
    skeleton: nameSkeleton(key),
    display: key.charAt(0).toUpperCase() + key.slice(1),
    passwordHash: extra.passwordHash ?? null,
    role: extra.role ?? 'member',
    now: NOW,
  });
}

const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');
const sorted = (xs: string[]) => [...xs].sort();

const seqs = (ms: { seq: number }[]) => ms.map((m) => m.seq);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

function storeContract(name: string, make: () => Promise<StoreHarness>): void {
  describe(`store contract: ${name}`, () => {
    const it = (
      title: string,
      body: (store: MessageStore, h: StoreHarness) => Promise<void>,
    ): void => {
      test(title, async () => {
        const h = await make();
        try {
          await body(await h.open(), h);
        } finally {
          await h.cleanup();
        }
      });
    };

    // ---- search ------------------------------------------------------------------------------

    const find = async (
      store: MessageStore,
      query: string,
      rooms: string[],
      offset = 0,
      limit = 20,
    ) => store.search({ terms: searchTerms(query), rooms, offset, limit });
    const texts = (r: { hits: { text: string }[] }) => r.hits.map((h) => h.text);

    it('search finds every term as a substring, case aside, in the rooms asked only', async (store) => {
      await store.append(
        [
          draft('lobby', 'The Deployment went fine'),
          draft('lobby', 'deploy tomorrow?'),
          draft('secret', 'deployment keys are here'),
          draft('dev', 'nothing to see'),
        ],
        NOW,
      );
      assert.deepEqual(sorted(texts(await find(store, 'DEPLOY', ['lobby', 'dev']))), [
        'The Deployment went fine',
        'deploy tomorrow?',
      ]);
      assert.deepEqual(texts(await find(store, 'deploy fine', ['lobby'])), [
        'The Deployment went fine',
      ]);
      assert.deepEqual(texts(await find(store, 'keys', ['lobby', 'dev'])), []);
      assert.deepEqual(texts(await find(store, 'keys', [])), []);
      const [hit] = (await find(store, 'keys', ['secret'])).hits;
      assert.deepEqual(hit, {
        room: 'secret',
        seq: 1,
        from: 'ann',
        text: 'deployment keys are here',
        ts: NOW,
        me: false,
      });
    });

    it('search works in Chinese and Japanese, with terms of one or two characters too', async (store) => {
      await store.append(
        [
          draft('lobby', '我们明天在北京开会'),
          draft('lobby', '東京都に住んでいます'),
          draft('lobby', 'カタカナのテキスト'),
        ],
        NOW,
      );
      assert.deepEqual(texts(await find(store, '北京开会', ['lobby'])), ['我们明天在北京开会']);
      assert.deepEqual(texts(await find(store, '東京', ['lobby'])), ['東京都に住んでいます']);
      assert.deepEqual(texts(await find(store, '京', ['lobby'])), [
        '東京都に住んでいます',
        '我们明天在北京开会',
      ]);
      assert.deepEqual(texts(await find(store, 'テキスト カ', ['lobby'])), ['カタカナのテキスト']);
    });

    it('search takes any input as literal text', async (store) => {
      await store.append(
        [
          draft('lobby', 'say "hi" AND bye'),
          draft('lobby', 'NEAR(a b) * -x 100% a_b c:d'),
          draft('lobby', 'plain'),
        ],
        NOW,
      );
      for (const q of [
        '"',
        '""',
        '"hi',
        'AND',
        'OR NOT',
        'NEAR(',
        '*',
        '-x',
        '100%',
        '%',
        '_',
        'a_b',
        'c:d',
        "'",
        '\\',
        '(',
        ')',
        '^',
        '{a}',
        '.',
        'a\u0000b',
        '\u0000',
      ]) {
        await find(store, q, ['lobby']);
      }
      assert.deepEqual(texts(await find(store, '"hi" AND', ['lobby'])), ['say "hi" AND bye']);
      assert.deepEqual(texts(await find(store, '100%', ['lobby'])), [
        'NEAR(a b) * -x 100% a_b c:d',
      ]);
      assert.deepEqual(texts(await find(store, '%', ['lobby'])), ['NEAR(a b) * -x 100% a_b c:d']);
      assert.deepEqual(texts(await find(store, 'a_b', ['lobby'])), ['NEAR(a b) * -x 100% a_b c:d']);
      assert.deepEqual(texts(await find(store, '_', ['lobby'])), ['NEAR(a b) * -x 100% a_b c:d']);
    });

    it('search ranks a text that says the term often and briefly first, and pages', async (store) => {
      await store.append(
        [
          draft('lobby', `release ${'and a great many other words '.repeat(8)}`),
          draft('lobby', 'release release release'),
          ...range(1, 5).map((i) => draft('lobby', `a release note ${i} with some more words`)),
        ],
        NOW,
      );
      const first = await find(store, 'release', ['lobby'], 0, 3);
      assert.equal(first.hits[0]?.text, 'release release release');
      assert.equal(first.more, true);
      const rest = await find(store, 'release', ['lobby'], 3, 10);
      assert.equal(rest.more, false);
      const all = [...first.hits, ...rest.hits];
      assert.equal(all.length, 7);
      assert.equal(new Set(all.map((h) => h.seq)).size, 7, 'no message on two pages');
      assert.equal(all.at(-1)?.seq, 1, 'the long one last');
    });

    it('search follows an edit, an emptied text and a deleted row', async (store, h) => {
      await store.append(
        [draft('lobby', 'first draft'), draft('lobby', 'keep me'), draft('lobby', 'gone soon')],
        NOW,
      );
      await h.rewrite('lobby', 1, 'second version');
      assert.deepEqual(texts(await find(store, 'draft', ['lobby'])), []);
      assert.deepEqual(texts(await find(store, 'version', ['lobby'])), ['second version']);
      await h.rewrite('lobby', 1, '');
      assert.deepEqual(texts(await find(store, 'version', ['lobby'])), []);
      await h.rewrite('lobby', 3, null);
      assert.deepEqual(texts(await find(store, 'soon', ['lobby'])), []);
      await h.rewrite('lobby', 1, 'back again');
      assert.deepEqual(texts(await find(store, 'again', ['lobby'])), ['back again']);
      assert.deepEqual(texts(await find(store, 'keep', ['lobby'])), ['keep me']);
    });

    it('describes itself for the start-up log', async (store) => {
      assert.match(store.description, new RegExp(`^${name}\\b`));
      await store.ping();
    });

    it('numbers messages 1..n per room, independently per room', async (store) => {
      const first = await store.append([draft('lobby', 'a1'), draft('lobby', 'a2')], NOW);
      const other = await store.append([draft('dev', 'b1')], NOW + 1);
      const more = await store.append([draft('lobby', 'a3'), draft('lobby', 'a4')], NOW + 2);
      assert.deepEqual(seqs(first.map((c) => c.message)), [1, 2]);
      assert.deepEqual(seqs(other.map((c) => c.message)), [1]);
      assert.deepEqual(seqs(more.map((c) => c.message)), [3, 4]);
      assert.ok([...first, ...other, ...more].every((c) => c.duplicate === false));
      assert.equal(await store.lastSeq('lobby'), 4);
      assert.equal(await store.lastSeq('dev'), 1);

      const d = draft('lobby', 'fields', { from: 'Bob', fromId: 'u_bob', me: true });
      const [c] = await store.append([d], NOW + 3);
      const expected = {
        room: 'lobby',
        seq: 5,
        from: 'Bob',
        text: 'fields',
        ts: NOW + 3,
        cid: d.cid,
        me: true,
      };
      assert.deepEqual(c, { message: expected, duplicate: false, actorId: 'u_bob' });
      // Read back as a log entry: the message, its kind, and who sent it (the name's key and the
      // sender's user id).
      assert.deepEqual(await store.after('lobby', 4, 10), [
        { kind: 'message', ...expected, actor: 'bob', actorId: 'u_bob' },
      ]);
    });

    it('keeps the order of a batch across rooms', async (store) => {
      const batch = [
        draft('a', 'a1'),
        draft('b', 'b1'),
        draft('a', 'a2'),
        draft('a', 'a3'),
        draft('b', 'b2'),
      ];
      const out = await store.append(batch, NOW);
      assert.deepEqual(
        out.map((c) => [c.message.room, c.message.seq, c.message.text, c.message.cid]),
        batch.map((d, i) => [d.room, [1, 1, 2, 3, 2][i], d.text, d.cid]),
      );
      assert.deepEqual(
        (await store.after('a', 0, 10)).map((m) => text(m)),
        ['a1', 'a2', 'a3'],
      );
      assert.deepEqual(
        (await store.after('b', 0, 10)).map((m) => text(m)),
        ['b1', 'b2'],
      );
    });

    it('returns an empty result for an empty batch', async (store) => {
      assert.deepEqual(await store.append([], NOW), []);
      assert.deepEqual(await store.rooms(), []);
    });

    it('returns the first message for a repeated cid, without a new number', async (store) => {
      const original = draft('lobby', 'first text');
      const [first] = await store.append([original], NOW);
      const again = { ...original, text: 'changed text', from: 'mallory' };
      const out = await store.append([draft('lobby', 'x'), again, draft('lobby', 'y')], NOW + 50);
      assert.deepEqual(first, {
        message: {
          room: 'lobby',
          seq: 1,
          from: 'ann',
          text: 'first text',
          ts: NOW,
          cid: original.cid,
          me: false,
        },
        duplicate: false,
        actorId: 'u_ann',
      });
      assert.deepEqual(out[1], { message: first?.message, duplicate: true, actorId: 'u_ann' });
      assert.deepEqual(
        out.map((c) => [c.message.seq, c.duplicate]),
        [
          [2, false],
          [1, true],
          [3, false],
        ],
      );
      assert.equal(await store.lastSeq('lobby'), 3);
      assert.deepEqual(
        (await store.after('lobby', 0, 10)).map((m) => text(m)),
        ['first text', 'x', 'y'],
      );
    });

    it('treats a cid repeated within one batch as a duplicate of its first use', async (store) => {
      const d = draft('lobby', 'once');
      const out = await store.append([d, draft('lobby', 'other'), { ...d, text: 'twice' }], NOW);
      assert.deepEqual(
        out.map((c) => [c.message.seq, c.message.text, c.duplicate]),
        [
          [1, 'once', false],
          [2, 'other', false],
          [1, 'once', true],
        ],
      );
      assert.equal(await store.lastSeq('lobby'), 2);
      // The same cid in another room is another message.
      const [elsewhere] = await store.append([{ ...d, room: 'dev' }], NOW);
      assert.deepEqual(
        [elsewhere?.message.room, elsewhere?.message.seq, elsewhere?.duplicate],
        ['dev', 1, false],
      );
    });

    it('pages after and before a sequence number, oldest first, bounded by limit', async (store) => {
      await store.append(
        range(1, 10).map((i) => draft('lobby', `m${i}`)),
        NOW,
      );
      await store.append([draft('other', 'not here')], NOW);
      assert.deepEqual(seqs(await store.after('lobby', 0, 100)), range(1, 10));
      assert.deepEqual(seqs(await store.after('lobby', 3, 4)), [4, 5, 6, 7]);
      assert.deepEqual(seqs(await store.after('lobby', 9, 5)), [10]);
      assert.deepEqual(seqs(await store.after('lobby', 10, 5)), []);
      assert.deepEqual(seqs(await store.before('lobby', 11, 3)), [8, 9, 10]);
      assert.deepEqual(seqs(await store.before('lobby', 6, 2)), [4, 5]);
      assert.deepEqual(seqs(await store.before('lobby', 5, 100)), [1, 2, 3, 4]);
      assert.deepEqual(seqs(await store.before('lobby', 1, 10)), []);
      assert.deepEqual(await store.after('nowhere', 0, 10), []);
      assert.deepEqual(await store.before('nowhere', 100, 10), []);
      const page = await store.before('lobby', 4, 10);
      assert.deepEqual(
        page.map((m) => [m.room, text(m)]),
        [
          ['lobby', 'm1'],
          ['lobby', 'm2'],
          ['lobby', 'm3'],
        ],
      );
    });

    it('lists rooms with their last numbers, direct rooms apart', async (store) => {
      assert.equal(await store.lastSeq('unknown'), 0);
      assert.deepEqual(await store.rooms(), []);
      await store.append([draft('lobby', '1'), draft('lobby', '2'), draft('dev', '1')], NOW);
      await store.append(
        [
          draft('@alice bob', 'hi', { direct: ['alice', 'bob'] }),
          draft('@alice carol', 'hi', { direct: ['alice', 'carol'] }),
          draft('@alice carol', 'again', { direct: ['alice', 'carol'] }),
        ],
        NOW,
      );
      assert.deepEqual(await store.rooms(), [
        { room: 'dev', lastSeq: 1, lastTs: NOW },
        { room: 'lobby', lastSeq: 2, lastTs: NOW },
      ]);
      await store.append([draft('dev', '2')], NOW + 7);
      assert.deepEqual(
        (await store.rooms()).find((r) => r.room === 'dev'),
        { room: 'dev', lastSeq: 2, lastTs: NOW + 7 },
      );
      const roomsOf = async (user: string) => (await store.directRooms(user)).map((d) => d.room);
      assert.deepEqual((await roomsOf('alice')).sort(), ['@alice bob', '@alice carol']);
      assert.deepEqual(await roomsOf('bob'), ['@alice bob']);
      assert.deepEqual(await roomsOf('carol'), ['@alice carol']);
      assert.deepEqual(await roomsOf('dave'), []);
      assert.deepEqual(await roomsOf('lobby'), []);
      // The pair is the room's two user ids, found from either side.
      assert.equal(await store.directRoom('carol', 'alice'), '@alice carol');
      assert.equal(await store.directRoom('bob', 'carol'), null);
      assert.deepEqual(await store.directPair('@alice bob'), ['alice', 'bob']);
      assert.equal(await store.directPair('lobby'), null);
      assert.equal(await store.directPair('nowhere'), null);
      assert.equal(await store.lastSeq('@alice carol'), 2);
      assert.deepEqual(
        (await store.after('@alice carol', 0, 10)).map((m) => text(m)),
        ['hi', 'again'],
      );
    });

    it('reserves names to a token hash', async (store) => {
      assert.equal(await store.nameExists('ann'), false);
      assert.equal(await store.claimName('ann', 'ann', 'hash-1', NOW), 'claimed');
      assert.equal(await store.claimName('ann', 'ann', 'hash-1', NOW + 1), 'owned');
      assert.equal(await store.claimName('ann', 'ann', 'hash-2', NOW + 2), 'reserved');
      assert.equal(await store.nameExists('ann'), true);
      assert.equal(await store.nameExists('bob'), false);
      assert.equal(await store.claimName('bob', 'bob', 'hash-2', NOW), 'claimed');
      assert.equal(await store.claimName('bob', 'bob', 'hash-1', NOW), 'reserved');
      assert.equal(await store.nameHolder('bob'), 'hash-2');
      assert.equal(await store.nameHolder('carol'), null);
    });

    it('gives each token one user id, kept by every name it reserves', async (store, h) => {
      assert.equal(await store.nameUser('ann'), null);
      assert.equal(await store.claimName('ann', 'ann', 'hash-1', NOW), 'claimed');
      const ann = await store.nameUser('ann');
      assert.match(ann ?? '', /^u_[0-9a-f]{16}$/);
      assert.equal(await store.claimName('bob', 'bob', 'hash-2', NOW), 'claimed');
      const bob = await store.nameUser('bob');
      assert.match(bob ?? '', /^u_[0-9a-f]{16}$/);
      assert.notEqual(bob, ann);
      // A rename reserves a new key for the same token: the same person.
      assert.equal(await store.claimName('annie', 'annie', 'hash-1', NOW + 1), 'claimed');
      assert.equal(await store.nameUser('annie'), ann);
      assert.equal(await store.nameUser('ann'), ann);
      // Refused claims make no user.
      assert.equal(await store.claimName('ann', 'ann', 'hash-3', NOW + 2), 'reserved');
      assert.equal(await store.nameUser('ann'), ann);
      const other = await h.open();
      assert.equal(await other.nameUser('annie'), ann);
      // A direct room of the two shows each the other's latest name.
      assert.ok(ann && bob);
      await store.append([draft('@ann bob', 'hi', { direct: [ann, bob] })], NOW + 3);
      assert.deepEqual(await store.directRooms(bob), [
        { room: '@ann bob', peer: ann, peerKey: 'annie' },
      ]);
      assert.deepEqual(await store.directRooms(ann), [
        { room: '@ann bob', peer: bob, peerKey: 'bob' },
      ]);
    });

    it("refuses a key whose skeleton is another token's, but not its own", async (store, h) => {
      assert.equal(await store.claimName('alice', 'alice', 'hash-1', NOW), 'claimed');
      // Cyrillic а: another key, the same skeleton.
      assert.equal(await store.claimName('\u0430lice', 'alice', 'hash-2', NOW), 'confusable');
      assert.equal(await store.nameExists('\u0430lice'), false);
      const other = await h.open();
      assert.equal(await other.claimName('\u0430lice', 'alice', 'hash-2', NOW), 'confusable');
      assert.equal(await store.claimName('\u0430lice', 'alice', 'hash-1', NOW), 'claimed');
      assert.equal(await store.claimName('alice', 'alice', 'hash-1', NOW), 'owned');
      assert.equal(await store.claimName('bob', 'bob', 'hash-2', NOW), 'claimed');
    });

    it('keeps one instance secret, the same for every node', async (store, h) => {
      assert.match(store.instanceSecret, /^[0-9a-f]{64}$/);
      const other = await h.open();
      assert.equal(other.instanceSecret, store.instanceSecret);
      await store.close();
      assert.equal((await h.open()).instanceSecret, other.instanceSecret);
    });

    it('stores text exactly as sent', async (store) => {
      const texts = [
        'plain',
        'emoji 👋🏽 👨‍👩‍👧‍👦 🇫🇷',
        'two\nlines\r\nand\ttab',
        'עברית וערבית: مرحبا بالعالم',
        `quotes ' " \` and backslash \\ \\\\`,
        "'; DROP TABLE messages; --",
        'Robert"); DROP TABLE rooms;--',
        '{"json": [1, 2], "nested": {"a": null}}',
        '{a,b} {"c"} NULL',
        'NULL',
        '$1 ? %s :name @p0',
        '<script>alert(1)</script> &amp;',
        '  leading and trailing spaces  ',
        'ß İ ı ǅ Ω ﬁ é e\u0301',
        'x'.repeat(16 * 1024),
      ];
      const drafts = texts.map((t, i) =>
        draft('lobby', t, { from: i % 2 ? 'Zoë 🌸' : "O'Brien", me: i % 3 === 0 }),
      );
      const out = await store.append(drafts, NOW);
      assert.deepEqual(
        out.map((c) => c.message.text),
        texts,
      );
      const stored = await store.after('lobby', 0, 100);
      assert.deepEqual(
        stored.map((m) => text(m)),
        texts,
      );
      assert.deepEqual(
        stored.map((m) => [m.from, 'me' in m && m.me]),
        drafts.map((d) => [d.from, d.me]),
      );
      // Odd room names and cids are data too.
      const room = '#it\'s "quoted"; DROP TABLE rooms; -- ✓';
      await store.append([draft(room, 'ok', { cid: "cid'); --" })], NOW);
      assert.deepEqual(
        (await store.after(room, 0, 1)).map((m) => [m.room, m.cid, text(m)]),
        [[room, "cid'); --", 'ok']],
      );
      assert.equal(await store.lastSeq(room), 1);
    });

    it('keeps everything across close and reopen', async (store, h) => {
      await store.append([draft('lobby', 'one'), draft('lobby', 'two')], NOW);
      const dm = draft('@a b', 'psst', { direct: ['a', 'b'] });
      await store.append([dm], NOW);
      assert.equal(await store.claimName('ann', 'ann', 'hash', NOW), 'claimed');
      await store.close();

      const again = await h.open();
      assert.equal(await again.lastSeq('lobby'), 2);
      assert.deepEqual(
        (await again.after('lobby', 0, 10)).map((m) => text(m)),
        ['one', 'two'],
      );
      assert.deepEqual(roomSeqs(await again.rooms()), [{ room: 'lobby', lastSeq: 2 }]);
      assert.deepEqual(
        (await again.directRooms('b')).map((d) => d.room),
        ['@a b'],
      );
      assert.equal(await again.claimName('ann', 'ann', 'hash', NOW), 'owned');
      const [dup] = await again.append([dm], NOW + 5);
      assert.deepEqual([dup?.message.seq, dup?.message.ts, dup?.duplicate], [1, NOW, true]);
      const [next] = await again.append([draft('lobby', 'three')], NOW);
      assert.equal(next?.message.seq, 3);
    });

    it('numbers concurrent batches from several connections 1..n without gaps', async (store, h) => {
      const nodes = [store, await h.open(), await h.open(), await h.open()];
      const batches = nodes.map((_, n) => range(1, 50).map((i) => draft('busy', `n${n} m${i}`)));
      const results = await Promise.all(nodes.map((s, n) => s.append(batches[n] ?? [], NOW + n)));
      const all = results.flat().map((c) => c.message.seq);
      assert.deepEqual(
        [...all].sort((x, y) => x - y),
        range(1, 200),
      );
      for (const r of results) {
        const s = r.map((c) => c.message.seq);
        assert.deepEqual(
          s,
          [...s].sort((x, y) => x - y),
          'a batch keeps its order',
        );
      }
      assert.equal(await store.lastSeq('busy'), 200);
      const stored = await nodes[3]?.after('busy', 0, 1000);
      assert.deepEqual(seqs(stored ?? []), range(1, 200));
      assert.equal(new Set(stored?.map((m) => m.cid)).size, 200);
      // Every stored message is the one its batch was told about.
      const told = new Map(results.flat().map((c) => [c.message.seq, c.message.text]));
      assert.ok(stored?.every((m) => told.get(m.seq) === text(m)));
    });

    it('stores a cid sent concurrently through several connections once', async (store, h) => {
      const nodes = [store, await h.open(), await h.open(), await h.open()];
      const batch = range(1, 20).map((i) => draft('race', `m${i}`));
      const results = await Promise.all(nodes.map((s, n) => s.append(batch, NOW + n)));
      for (const r of results) assert.deepEqual(seqs(r.map((c) => c.message)), range(1, 20));
      for (let i = 0; i < 20; i++) {
        const fresh = results.filter((r) => r[i]?.duplicate === false);
        assert.equal(fresh.length, 1, `cid ${i} committed once`);
      }
      assert.equal(await store.lastSeq('race'), 20);
      assert.deepEqual(seqs(await store.after('race', 0, 100)), range(1, 20));
    });

    it('commits nothing of a batch that fails', async (store) => {
      await store.append([draft('lobby', 'before')], NOW);
      const bad = { ...draft('lobby', 'x'), text: null as never };
      await assert.rejects(
        store.append(
          [draft('lobby', 'lost 1'), draft('fresh', 'lost 2'), bad, draft('lobby', 'lost 3')],
          NOW,
        ),
      );
      assert.equal(await store.lastSeq('lobby'), 1);
      assert.equal(await store.lastSeq('fresh'), 0);
      assert.deepEqual(roomSeqs(await store.rooms()), [{ room: 'lobby', lastSeq: 1 }]);
      assert.deepEqual(
        (await store.after('lobby', 0, 10)).map((m) => text(m)),
        ['before'],
      );
      // The numbers the failed batch would have taken are given out again: no gap.
      const [next] = await store.append([draft('lobby', 'after')], NOW);
      assert.equal(next?.message.seq, 2);
      // A closed store refuses work rather than pretending.
      await store.close();
      await assert.rejects(store.append([draft('lobby', 'closed')], NOW));
    });

    // ---- the directory ------------------------------------------------------------------------

    it('makes users with a first name, refusing reserved and confusable ones', async (store) => {
      assert.equal(await store.hasOwner(), false);
      assert.equal(
        await makeUser(store, 'ann', { role: 'owner', passwordHash: '$argon2id$x' }),
        'claimed',
      );
      const ann = {
        id: 'u_ann',
        key: 'ann',
        display: 'Ann',
        role: 'owner',
        hasPassword: true,
        bannedUntil: null,
        banReason: null,
        created: NOW,
      };
      assert.deepEqual(await store.userById('u_ann'), ann);
      assert.deepEqual(await store.userByName('ann'), ann);
      assert.equal(await store.nameUser('ann'), 'u_ann');
      assert.equal(await store.hasOwner(), true);
      assert.equal(await store.passwordHash('u_ann'), '$argon2id$x');

      // Refused: nothing is written, neither the user nor the name.
      assert.equal(await makeUser(store, 'ann', { id: 'u_other' }), 'reserved');
      assert.equal(await makeUser(store, '\u0430nn', { id: 'u_other' }), 'confusable');
      assert.equal(await store.userById('u_other'), null);
      assert.equal(await store.nameExists('\u0430nn'), false);
      assert.equal(await store.userByName('\u0430nn'), null);
      // A user's name is not a token's to claim.
      assert.equal(await store.claimName('ann', 'ann', 'hash-1', NOW), 'reserved');

      assert.equal(await makeUser(store, 'bob'), 'claimed');
      assert.deepEqual(await store.userById('u_bob'), {
        ...ann,
        id: 'u_bob',
        key: 'bob',
        display: 'Bob',
        role: 'member',
        hasPassword: false,
      });
      assert.equal(await store.passwordHash('u_bob'), null);
      await store.setPasswordHash('u_bob', '$argon2id$y');
      assert.equal(await store.passwordHash('u_bob'), '$argon2id$y');
      await store.setRole('u_bob', 'moderator');
      await store.setServerBan('u_bob', FOREVER, 'spam');
      assert.deepEqual(await store.userById('u_bob'), {
        ...ann,
        id: 'u_bob',
        key: 'bob',
        display: 'Bob',
        role: 'moderator',
        bannedUntil: FOREVER,
        banReason: 'spam',
      });
      await store.setServerBan('u_bob', null, null);
      const bob = await store.userById('u_bob');
      assert.deepEqual([bob?.bannedUntil, bob?.banReason], [null, null]);

      assert.equal(await store.userById('u_nobody'), null);
      assert.equal(await store.userByName('nobody'), null);
      assert.equal(await store.passwordHash('u_nobody'), null);
    });

    it('moves a user to a name they claim; earlier names still find them', async (store, h) => {
      await makeUser(store, 'ann');
      await makeUser(store, 'bob');
      assert.equal(
        await store.claimUserName('annie', 'annie', 'Annie', 'u_ann', NOW + 1),
        'claimed',
      );
      const annie = await store.userById('u_ann');
      assert.deepEqual([annie?.key, annie?.display], ['annie', 'Annie']);
      assert.deepEqual(await store.userByName('ann'), annie);
      assert.deepEqual(await store.userByName('annie'), annie);
      assert.equal(await store.nameUser('annie'), 'u_ann');
      // Back to the first name: already hers.
      assert.equal(await store.claimUserName('ann', 'ann', 'ANN', 'u_ann', NOW + 2), 'owned');
      const back = await (await h.open()).userById('u_ann');
      assert.deepEqual([back?.key, back?.display], ['ann', 'ANN']);

      assert.equal(
        await store.claimUserName('annie', 'annie', 'Annie', 'u_bob', NOW + 3),
        'reserved',
      );
      assert.equal(
        await store.claimUserName('\u0430nnie', 'annie', 'Аnnie', 'u_bob', NOW + 3),
        'confusable',
      );
      const bob = await store.userById('u_bob');
      assert.deepEqual([bob?.key, bob?.display], ['bob', 'Bob']);
      assert.equal(await store.nameExists('\u0430nnie'), false);
      // A look-alike of one's own name is one's own to take.
      assert.equal(
        await store.claimUserName('\u0430nnie', 'annie', 'Аnnie', 'u_ann', NOW + 4),
        'claimed',
      );
      assert.equal((await store.userByName('\u0430nnie'))?.id, 'u_ann');
    });

    it('pages users in name order', async (store) => {
      for (const key of ['carol', 'ann', 'eve', 'bob', 'dave']) await makeUser(store, key);
      const keys = (us: { key: string }[]) => us.map((u) => u.key);
      assert.deepEqual(keys(await store.users(undefined, 2)), ['ann', 'bob']);
      assert.deepEqual(keys(await store.users('bob', 2)), ['carol', 'dave']);
      assert.deepEqual(keys(await store.users('dave', 10)), ['eve']);
      assert.deepEqual(keys(await store.users('eve', 10)), []);
      assert.deepEqual(keys(await store.users('b', 1)), ['bob']);
      // A user is listed once, by the name they go by now.
      await store.claimUserName('zed', 'zed', 'Zed', 'u_ann', NOW + 1);
      assert.deepEqual(keys(await store.users(undefined, 10)), [
        'bob',
        'carol',
        'dave',
        'eve',
        'zed',
      ]);
    });

    it('keeps sessions by token hash, shown and ended by a short id', async (store, h) => {
      await makeUser(store, 'ann');
      await makeUser(store, 'bob');
      const [one, two, three, four] = ['t1', 't2', 't3', 't4'].map(tokenHash);
      assert.ok(one && two && three && four);
      await store.addSession(one, 'u_ann', NOW, 'Firefox on Linux');
      await store.addSession(two, 'u_ann', NOW + 1, 'text');
      await store.addSession(three, 'u_bob', NOW + 2, 'Safari on iOS');
      const first = {
        id: one.slice(0, 12),
        userId: 'u_ann',
        created: NOW,
        lastSeen: NOW,
        label: 'Firefox on Linux',
      };
      assert.deepEqual(await store.session(one), first);
      assert.equal(await store.session(tokenHash('never')), null);

      await store.touchSession(one, NOW + DAY);
      assert.deepEqual(await store.session(one), { ...first, lastSeen: NOW + DAY });
      // A touch soon after may be skipped, but never goes back.
      await store.touchSession(one, NOW + DAY + 1);
      assert.ok([NOW + DAY, NOW + DAY + 1].includes((await store.session(one))?.lastSeen ?? 0));

      const ids = async (userId: string) => (await store.sessions(userId)).map((x) => x.id).sort();
      assert.deepEqual(await ids('u_ann'), [one.slice(0, 12), two.slice(0, 12)].sort());
      assert.deepEqual(await store.sessions('u_bob'), [
        {
          id: three.slice(0, 12),
          userId: 'u_bob',
          created: NOW + 2,
          lastSeen: NOW + 2,
          label: 'Safari on iOS',
        },
      ]);

      // Only the user's own session, only by its short id.
      assert.equal(await store.endSession('u_bob', one.slice(0, 12)), false);
      assert.equal(await store.endSession('u_ann', one), false);
      assert.equal(await store.endSession('u_ann', one.slice(0, 6)), false);
      assert.ok(await store.session(one));
      assert.equal(await store.endSession('u_ann', one.slice(0, 12)), true);
      assert.equal(await store.session(one), null);
      assert.equal(await (await h.open()).session(one), null);
      assert.equal(await store.endSession('u_ann', one.slice(0, 12)), false);

      // Log out everywhere else: every session of the user but the one kept.
      await store.addSession(four, 'u_ann', NOW + 3, 'text');
      assert.equal(await store.endSessions('u_ann', four), 1);
      assert.deepEqual(await ids('u_ann'), [four.slice(0, 12)]);
      assert.equal(await store.endSessions('u_ann'), 1);
      assert.deepEqual(await store.sessions('u_ann'), []);
      assert.equal(await store.endSessions('u_ann'), 0);
      assert.deepEqual(await ids('u_bob'), [three.slice(0, 12)]);
    });

    it('uses a ticket until it is used up, expired, of another kind, or revoked', async (store) => {
      const invite = {
        kind: 'invite',
        userId: null,
        uses: 2,
        expires: NOW + HOUR,
        createdBy: 'u_ann',
        created: NOW,
      } as const;
      await store.addTicket('h-invite', invite);
      assert.equal(await store.useTicket('h-invite', 'reset', NOW), null);
      assert.equal(await store.useTicket('h-nothing', 'invite', NOW), null);
      assert.deepEqual(await store.tickets('invite', NOW), [{ ...invite, hash: 'h-invite' }]);
      assert.deepEqual(await store.useTicket('h-invite', 'invite', NOW), { ...invite, uses: 1 });
      assert.deepEqual(await store.tickets('invite', NOW), [
        { ...invite, uses: 1, hash: 'h-invite' },
      ]);
      assert.deepEqual(await store.useTicket('h-invite', 'invite', NOW + 1), {
        ...invite,
        uses: 0,
      });
      assert.equal(await store.useTicket('h-invite', 'invite', NOW + 2), null);
      assert.deepEqual(await store.tickets('invite', NOW), []);
      // What the use was for failed: the use is given back.
      await store.returnTicket('h-invite');
      assert.deepEqual(await store.useTicket('h-invite', 'invite', NOW + 3), {
        ...invite,
        uses: 0,
      });
      assert.equal(await store.useTicket('h-invite', 'invite', NOW + 4), null);

      const setup = {
        kind: 'setup',
        userId: null,
        uses: 5,
        expires: NOW + 10,
        createdBy: null,
        created: NOW,
      } as const;
      await store.addTicket('h-setup', setup);
      assert.deepEqual(await store.useTicket('h-setup', 'setup', NOW + 9), { ...setup, uses: 4 });
      assert.equal(await store.useTicket('h-setup', 'setup', NOW + 10), null);
      assert.deepEqual(await store.tickets('setup', NOW + 9), [
        { ...setup, uses: 4, hash: 'h-setup' },
      ]);
      assert.deepEqual(await store.tickets('setup', NOW + 10), []);

      const reset = {
        kind: 'reset',
        userId: 'u_bob',
        uses: 1,
        expires: NOW + HOUR,
        createdBy: 'u_ann',
        created: NOW,
      } as const;
      await store.addTicket('h-reset', reset);
      assert.deepEqual(await store.tickets('reset', NOW), [{ ...reset, hash: 'h-reset' }]);
      assert.equal(await store.revokeTicket('h-reset'), true);
      assert.equal(await store.useTicket('h-reset', 'reset', NOW), null);
      assert.deepEqual(await store.tickets('reset', NOW), []);
      // A use given back after the revocation does not bring it back.
      await store.returnTicket('h-reset');
      assert.equal(await store.useTicket('h-reset', 'reset', NOW), null);
      assert.equal(await store.revokeTicket('h-nothing'), false);
    });

    it('keeps room settings and roles, and lists private rooms', async (store, h) => {
      assert.equal(await store.roomSettings('lobby'), null);
      assert.deepEqual(await store.privateRooms(), []);
      const lobby = { visibility: 'public', topic: 'say hi', guests: true } as const;
      await store.putRoomSettings('lobby', lobby);
      await store.putRoomSettings('ops', { visibility: 'private', topic: '', guests: false });
      await store.putRoomSettings('hq', { visibility: 'private', topic: 'plans', guests: false });
      assert.deepEqual(await store.roomSettings('lobby'), lobby);
      assert.deepEqual(await (await h.open()).roomSettings('hq'), {
        visibility: 'private',
        topic: 'plans',
        guests: false,
      });
      assert.deepEqual(sorted(await store.privateRooms()), ['hq', 'ops']);
      await store.putRoomSettings('lobby', { ...lobby, visibility: 'private', guests: false });
      assert.deepEqual(sorted(await store.privateRooms()), ['hq', 'lobby', 'ops']);
      await store.putRoomSettings('lobby', { ...lobby, topic: 'new topic' });
      assert.deepEqual(await store.roomSettings('lobby'), { ...lobby, topic: 'new topic' });
      assert.deepEqual(sorted(await store.privateRooms()), ['hq', 'ops']);

      assert.equal(await store.roomRole('ops', 'u_ann'), null);
      await store.setRoomRole('ops', 'u_ann', 'owner');
      await store.setRoomRole('ops', 'u_bob', 'member');
      await store.setRoomRole('hq', 'u_bob', 'moderator');
      await store.setRoomRole('lobby', 'u_ann', 'moderator');
      assert.equal(await store.roomRole('ops', 'u_ann'), 'owner');
      assert.equal(await store.roomRole('hq', 'u_ann'), null);
      const byUser = (rs: { userId: string; role: string }[]) =>
        [...rs].sort((a, b) => (a.userId < b.userId ? -1 : 1));
      assert.deepEqual(byUser(await store.roomRoles('ops')), [
        { userId: 'u_ann', role: 'owner' },
        { userId: 'u_bob', role: 'member' },
      ]);
      assert.deepEqual(await store.roomRoles('nowhere'), []);
      // Only private rooms: the public lobby is everyone's anyway.
      assert.deepEqual(sorted(await store.privateRoomsOf('u_ann')), ['ops']);
      assert.deepEqual(sorted(await store.privateRoomsOf('u_bob')), ['hq', 'ops']);
      assert.deepEqual(await store.privateRoomsOf('u_carol'), []);

      await store.setRoomRole('ops', 'u_bob', 'moderator');
      assert.equal(await store.roomRole('ops', 'u_bob'), 'moderator');
      await store.setRoomRole('ops', 'u_bob', null);
      assert.equal(await store.roomRole('ops', 'u_bob'), null);
      assert.deepEqual(await store.roomRoles('ops'), [{ userId: 'u_ann', role: 'owner' }]);
      assert.deepEqual(await store.privateRoomsOf('u_bob'), ['hq']);
    });

    it('sets, reads and lifts bans and mutes, per room and on the instance', async (store) => {
      assert.equal(await store.sanction('', 'u_ann', 'ban'), null);
      await store.setSanction('', 'u_ann', 'ban', FOREVER, 'spam');
      await store.setSanction('lobby', 'u_ann', 'mute', NOW + 1000, 'too loud');
      assert.equal(await store.sanction('', 'u_ann', 'ban'), FOREVER);
      assert.equal(await store.sanction('lobby', 'u_ann', 'mute'), NOW + 1000);
      assert.equal(await store.sanction('lobby', 'u_ann', 'ban'), null);
      assert.equal(await store.sanction('', 'u_ann', 'mute'), null);
      assert.equal(await store.sanction('lobby', 'u_bob', 'mute'), null);
      // A later sanction replaces the earlier; one that is over is still read (the core compares).
      await store.setSanction('lobby', 'u_ann', 'mute', NOW - 1, 'shorter');
      assert.equal(await store.sanction('lobby', 'u_ann', 'mute'), NOW - 1);
      await store.setSanction('', 'u_ann', 'ban', null, 'lifted');
      assert.equal(await store.sanction('', 'u_ann', 'ban'), null);
      assert.equal(await store.sanction('lobby', 'u_ann', 'mute'), NOW - 1);
    });

    it("reads a person's role, ban and mute in a room at once", async (store) => {
      const none = { role: null, ban: null, mute: null };
      assert.deepEqual(await store.standingOf('ops', 'u_ann'), none);
      await store.setRoomRole('ops', 'u_ann', 'moderator');
      await store.setSanction('ops', 'u_ann', 'mute', NOW + 1000, 'loud');
      await store.setSanction('ops', 'u_bob', 'ban', FOREVER, 'spam');
      await store.setSanction('', 'u_ann', 'ban', FOREVER, 'the instance is not the room');
      await store.setRoomRole('hq', 'u_ann', 'owner');
      assert.deepEqual(await store.standingOf('ops', 'u_ann'), {
        role: 'moderator',
        ban: null,
        mute: NOW + 1000,
      });
      assert.deepEqual(await store.standingOf('ops', 'u_bob'), { ...none, ban: FOREVER });
      assert.deepEqual(await store.standingOf('', 'u_ann'), { ...none, ban: FOREVER });
      assert.deepEqual(await store.standingOf('hq', 'u_bob'), none);
    });

    it('numbers audit entries and pages them both ways', async (store, h) => {
      assert.equal(await store.lastAuditSeq(), 0);
      assert.deepEqual(await store.auditAfter(0, 10), []);
      assert.deepEqual(await store.auditBefore(undefined, 10), []);
      const entries = range(1, 5).map((i) => ({
        at: NOW + i,
        actorId: i === 1 ? null : 'u_ann',
        action: `action-${i}`,
        targetId: i % 2 ? 'u_bob' : null,
        room: i > 3 ? 'lobby' : null,
        reason: i === 2 ? "it's ok; DROP TABLE audit; --" : '',
      }));
      const numbers: number[] = [];
      for (const e of entries) numbers.push(await store.audit(e));
      assert.ok(
        numbers.every((n, i) => n > (numbers[i - 1] ?? 0)),
        `seqs ${numbers.join(' ')}`,
      );
      const stored = entries.map((e, i) => ({ seq: numbers[i], ...e }));
      const other = await h.open();
      assert.equal(await other.lastAuditSeq(), numbers[4]);
      assert.deepEqual(await other.auditAfter(0, 10), stored);
      assert.deepEqual(await store.auditAfter(numbers[1] ?? 0, 2), stored.slice(2, 4));
      assert.deepEqual(await store.auditAfter(numbers[4] ?? 0, 2), []);
      assert.deepEqual(await store.auditBefore(undefined, 2), [stored[4], stored[3]]);
      assert.deepEqual(await store.auditBefore(numbers[2], 10), [stored[1], stored[0]]);
      assert.deepEqual(await store.auditBefore(numbers[0], 10), []);
    });

    it('gives a key, a ticket use, to exactly one of two nodes at once', async (store, h) => {
      const other = await h.open();
      const nodes = [store, other] as const;
      const n = range(1, 20);
      // Two people signing up with one name on two nodes.
      const made = await Promise.all(
        n.map((i) => Promise.all(nodes.map((s, j) => makeUser(s, `k${i}`, { id: `u_${j}_${i}` })))),
      );
      for (const [i, pair] of made.entries()) {
        assert.deepEqual([...pair].sort(), ['claimed', 'reserved'], `k${i + 1}`);
        const winner = pair.indexOf('claimed');
        assert.equal((await store.userByName(`k${i + 1}`))?.id, `u_${winner}_${i + 1}`);
        assert.equal(await store.userById(`u_${1 - winner}_${i + 1}`), null);
      }
      // Two users renaming to one name on two nodes.
      await makeUser(store, 'x');
      await makeUser(other, 'y');
      const claims = await Promise.all(
        n.map((i) =>
          Promise.all(
            nodes.map((s, j) => s.claimUserName(`n${i}`, `n${i}`, `N${i}`, j ? 'u_y' : 'u_x', NOW)),
          ),
        ),
      );
      for (const [i, pair] of claims.entries()) {
        assert.deepEqual([...pair].sort(), ['claimed', 'reserved'], `n${i + 1}`);
        const winner = pair[0] === 'claimed' ? 'u_x' : 'u_y';
        assert.equal((await other.userByName(`n${i + 1}`))?.id, winner);
      }
      // The last use of a ticket, taken on two nodes.
      for (const i of n) {
        await store.addTicket(`t${i}`, {
          kind: 'invite',
          userId: null,
          uses: 1,
          expires: NOW + HOUR,
          createdBy: null,
          created: NOW,
        });
      }
      const uses = await Promise.all(
        n.map((i) => Promise.all(nodes.map((s) => s.useTicket(`t${i}`, 'invite', NOW)))),
      );
      for (const pair of uses) assert.equal(pair.filter((u) => u !== null).length, 1);
    });

    // ---- a message's life: edits, removals, reactions, replies ---------------------------------

    const change = <K extends 'edit' | 'delete' | 'reaction'>(
      kind: K,
      target: number,
      extra: Record<string, unknown> = {},
      who: { from: string; fromId: string } = { from: 'ann', fromId: 'u_ann' },
    ) =>
      ({
        kind,
        room: 'lobby',
        cid: `c${++cidCounter}`,
        ...who,
        target,
        ...(kind === 'edit' && { text: 'edited', editableSince: null }),
        ...(kind === 'delete' && { anyone: false }),
        ...(kind === 'reaction' && { emoji: '👍' }),
        ...extra,
      }) as ChangeDraft;
    const BOB = { from: 'bob', fromId: 'u_bob' };

    it('changes take the next numbers in the batch, judged in order; refused ones take none', async (store) => {
      const [m1] = await store.append([draft('lobby', 'first')], NOW);
      assert.equal(m1?.message.seq, 1);
      const out = await store.append(
        [
          draft('lobby', 'second', { replyTo: 1 }),
          change('edit', 1, { text: 'first, edited' }),
          change('edit', 1, {}, BOB),
          change('reaction', 1, {}, BOB),
          change('reaction', 1),
          change('reaction', 1, {}, BOB),
          change('delete', 2, {}, BOB),
          change('edit', 9),
          change('delete', 2),
          change('edit', 2),
        ],
        NOW + 5,
      );
      assert.deepEqual(
        out.map((o) =>
          'refused' in o ? o.refused : 'entry' in o ? [o.entry.kind, o.entry.seq] : o.message.seq,
        ),
        [
          2,
          ['edit', 3],
          'NOT_YOUR_MESSAGE',
          ['reaction', 4],
          ['reaction', 5],
          ['reaction', 6],
          'NOT_YOUR_MESSAGE',
          'NO_SUCH_MESSAGE',
          ['delete', 7],
          'MESSAGE_REMOVED',
        ],
      );
      assert.equal(await store.lastSeq('lobby'), 7);
      const log = await store.after('lobby', 0, 20);
      assert.deepEqual(
        log.map((e) =>
          e.kind === 'message'
            ? [e.seq, e.text, e.edited ?? null, e.removed ?? false, e.replyTo ?? null]
            : e.kind === 'reaction'
              ? [e.seq, e.kind, e.target, e.emoji, e.on, e.from]
              : [e.seq, e.kind, e.target, text(e)],
        ),
        [
          [1, 'first, edited', NOW + 5, false, null],
          [2, '', null, true, 1],
          [3, 'edit', 1, 'first, edited'],
          [4, 'reaction', 1, '👍', true, 'bob'],
          [5, 'reaction', 1, '👍', true, 'ann'],
          [6, 'reaction', 1, '👍', false, 'bob'],
          [7, 'delete', 2, ''],
        ],
      );
      assert.deepEqual(
        await store.reactions('lobby', [1, 2]),
        new Map([[1, [{ emoji: '👍', count: 1, by: ['ann'] }]]]),
      );
      const state = await store.message('lobby', 1);
      assert.equal(state?.message.text, 'first, edited');
      assert.equal(state?.senderId, 'u_ann');
      assert.equal(await store.message('lobby', 3), null, 'an edit is no message');
    });

    it('a removal purges the text of the message and of its edits, and its reactions', async (store) => {
      await store.append([draft('lobby', 'secret')], NOW);
      await store.append(
        [change('edit', 1, { text: 'more secret' }), change('reaction', 1)],
        NOW + 1,
      );
      const [del] = await store.append([change('delete', 1)], NOW + 2);
      assert.ok(del && 'entry' in del && del.authorId === 'u_ann');
      const all = await store.after('lobby', 0, 10);
      assert.ok(
        all.every((e) => text(e) === ''),
        JSON.stringify(all),
      );
      assert.deepEqual(await store.reactions('lobby', [1]), new Map());
      const [page] = await store.before('lobby', 10, 10);
      assert.ok(page?.kind === 'message' && page.removed === true);
    });

    it('a change sent again returns the first entry and changes nothing', async (store) => {
      await store.append([draft('lobby', 'hi')], NOW);
      const d = change('reaction', 1);
      const [first] = await store.append([d], NOW + 1);
      const [again] = await store.append([d], NOW + 2);
      assert.ok(first && 'entry' in first && again && 'entry' in again);
      assert.equal(again.duplicate, true);
      assert.deepEqual(again.entry, first.entry);
      assert.equal(await store.lastSeq('lobby'), 2);
      assert.deepEqual((await store.reactions('lobby', [1])).get(1)?.[0]?.count, 1);
    });

    it('at most 20 distinct emoji on a message; a moderator removes anyone’s', async (store) => {
      await store.append([draft('lobby', 'so many')], NOW);
      const faces = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤩'];
      const out = await store.append(
        faces.map((emoji) => change('reaction', 1, { emoji })),
        NOW,
      );
      assert.equal(
        out.filter((o) => 'refused' in o && o.refused === 'TOO_MANY_REACTIONS').length,
        1,
      );
      const [mod] = await store.append([change('delete', 1, { anyone: true }, BOB)], NOW);
      assert.ok(mod && 'entry' in mod && mod.authorId === 'u_ann');
    });

    it('changes since an entry: the older messages in their current state', async (store) => {
      await store.append(
        [draft('lobby', 'one'), draft('lobby', 'two'), draft('lobby', 'three')],
        NOW,
      );
      await store.append(
        [change('edit', 1, { text: 'uno' }), change('reaction', 2, { emoji: '🎉' })],
        NOW + 1,
      );
      await store.append([change('edit', 3, { text: 'tres' })], NOW + 2);
      const all = await store.changed('lobby', 3, 3, 100);
      assert.deepEqual(
        all.messages.map((m) => [m.seq, m.text, m.reactions?.map((r) => r.emoji) ?? []]),
        [
          [1, 'uno', []],
          [2, 'two', ['🎉']],
        ],
      );
      // As a reader gets them: with the sender's user id.
      assert.deepEqual(
        all.messages.map((m) => m.fromId),
        ['u_ann', 'u_ann'],
      );
      assert.deepEqual([all.upTo, all.more], [6, false]);
      const bounded = await store.changed('lobby', 3, 10, 1);
      assert.deepEqual(
        [bounded.messages.map((m) => m.seq), bounded.upTo, bounded.more],
        [[1], 4, true],
      );
    });

    it('two nodes toggling the same reaction at once: one puts it, the other takes it back', async (store, h) => {
      await store.append([draft('lobby', 'hi')], NOW);
      const other = await h.open();
      const [a, b] = await Promise.all([
        store.append([change('reaction', 1)], NOW + 1),
        other.append([change('reaction', 1)], NOW + 2),
      ]);
      const ons = [a[0], b[0]].map(
        (o) => o && 'entry' in o && o.entry.kind === 'reaction' && o.entry.on,
      );
      assert.deepEqual(ons.sort(), [false, true]);
      assert.deepEqual(await store.reactions('lobby', [1]), new Map());
    });

    // ---- read markers ------------------------------------------------------------------------

    it('read markers: a person has theirs per room, and a write never moves one back', async (store) => {
      assert.deepEqual(await store.markers('u_a', ['lobby', 'dev']), new Map());
      await store.saveMarkers([
        { userId: 'u_a', room: 'lobby', seq: 5, at: NOW },
        { userId: 'u_a', room: 'dev', seq: 2, at: NOW },
        { userId: 'u_b', room: 'lobby', seq: 9, at: NOW },
        { userId: 'u_a', room: '@u_a u_b', seq: 1, at: NOW },
      ]);
      assert.deepEqual(
        await store.markers('u_a', ['lobby', 'dev', '@u_a u_b', 'none']),
        new Map([
          ['lobby', 5],
          ['dev', 2],
          ['@u_a u_b', 1],
        ]),
      );
      assert.deepEqual(await store.markers('u_a', ['dev']), new Map([['dev', 2]]));
      assert.deepEqual(await store.markers('u_b', ['dev']), new Map(), 'one room, no marker');
      assert.deepEqual(await store.markers('u_b', ['lobby', 'dev']), new Map([['lobby', 9]]));
      assert.deepEqual(await store.markers('u_a', []), new Map());
      // Back is no move; forward is; the same marker twice in a batch keeps the higher.
      await store.saveMarkers([
        { userId: 'u_a', room: 'lobby', seq: 3, at: NOW + 1 },
        { userId: 'u_a', room: 'dev', seq: 7, at: NOW + 1 },
        { userId: 'u_a', room: 'dev', seq: 4, at: NOW + 1 },
        { userId: 'u_b', room: 'lobby', seq: 9, at: NOW + 1 },
      ]);
      assert.deepEqual(
        await store.markers('u_a', ['lobby', 'dev']),
        new Map([
          ['lobby', 5],
          ['dev', 7],
        ]),
      );
      await store.saveMarkers([]);
    });

    it('read markers: two nodes writing the same markers at once end on the highest', async (store, h) => {
      const other = await h.open();
      const rooms = Array.from({ length: 20 }, (_, i) => `r${i}`);
      const batch = (seq: (i: number) => number) =>
        rooms.map((room, i) => ({ userId: 'u_c', room, seq: seq(i), at: NOW }));
      // Opposite orders and interleaved highs: neither may lower what the other wrote.
      await Promise.all([
        store.saveMarkers(batch((i) => (i % 2 === 0 ? 10 : 20))),
        other.saveMarkers(batch((i) => (i % 2 === 0 ? 20 : 10)).reverse()),
        store.saveMarkers(batch(() => 15)),
      ]);
      const got = await other.markers('u_c', rooms);
      assert.deepEqual(
        [...got.values()],
        rooms.map(() => 20),
      );
    });
  });
}

// ---- adapters ---------------------------------------------------------------------------------

storeContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'parley-store-'));
  const file = join(dir, 'parley.db');
  const opened: MessageStore[] = [];
  return {
    async rewrite(room, seq, body) {
      const db = new Database(file);
      try {
        if (body === null)
          db.prepare('DELETE FROM messages WHERE room = ? AND seq = ?').run(room, seq);
        else
          db.prepare('UPDATE messages SET body = ? WHERE room = ? AND seq = ?').run(
            body,
            room,
            seq,
          );
      } finally {
        db.close();
      }
    },
    async open() {
      const store = await openStore(`sqlite:${file}`);
      opened.push(store);
      return store;
    },
    async cleanup() {
      for (const s of opened) await s.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
});

storeContract('postgres', async () => {
  const admin = await requirePostgres(2);
  const schema = `parley_test_${uniqueSuffix()}`;
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('schema', schema);
  const opened: MessageStore[] = [];
  return {
    async rewrite(room, seq, body) {
      const m = `"${schema}".messages`;
      if (body === null)
        await admin.query(`DELETE FROM ${m} WHERE room = $1 AND seq = $2`, [room, seq]);
      else
        await admin.query(`UPDATE ${m} SET body = $1 WHERE room = $2 AND seq = $3`, [
          body,
          room,
          seq,
        ]);
    },
    async open() {
      // openStore makes a pool per store: each open() is a separate node.
      const store = await openStore(url.toString());
      opened.push(store);
      return store;
    },
    async cleanup() {
      for (const s of opened) await s.close().catch(() => {});
      try {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
});

// ---- what only some adapters have --------------------------------------------------------------

describe('openStore', () => {
  test('opens SQLite from sqlite:PATH and from a bare path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-open-'));
    try {
      const a = await openStore(`sqlite:${join(dir, 'a.db')}`);
      const b = await openStore(join(dir, 'nested', 'b.db'));
      const m = await openStore('sqlite::memory:');
      assert.match(a.description, /^sqlite .*a\.db/);
      assert.match(b.description, /^sqlite .*nested\/b\.db/);
      assert.match(m.description, /^sqlite :memory:/);
      await Promise.all([a.close(), b.close(), m.close()]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('refuses an unknown scheme with a message that says what works', async () => {
    await assert.rejects(openStore('mysql://root:secret@db/parley'), (err: Error) => {
      assert.match(err.message, /unknown store URL scheme "mysql:"/);
      assert.match(err.message, /sqlite:/);
      assert.match(err.message, /postgres:\/\//);
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
    await assert.rejects(openStore('sqlite:'), /needs a file path/);
  });

  test('opens PostgreSQL from a URL and ends its pool on close', async () => {
    const admin = await requirePostgres(2);
    const schema = `parley_test_${uniqueSuffix()}`;
    try {
      const url = new URL(POSTGRES_URL);
      url.searchParams.set('schema', schema);
      const store = await openStore(url.toString().replace(/^postgres:/, 'postgresql:'));
      const sync = (await admin.query<{ synchronous_commit: string }>('SHOW synchronous_commit'))
        .rows[0]?.synchronous_commit;
      assert.match(
        store.description,
        new RegExp(`^postgres \\S+:\\d+/\\w+ \\(schema=${schema}, synchronous_commit=${sync}\\)$`),
      );
      await store.append([draft('lobby', 'hello')], NOW);
      await store.close();
      await assert.rejects(store.ping());
      const tables = await admin.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [schema],
      );
      assert.deepEqual(
        tables.rows.map((r) => r.table_name),
        [
          'audit',
          'messages',
          'names',
          'reactions',
          'read_markers',
          'room_roles',
          'room_settings',
          'rooms',
          'sanctions',
          'schema_migrations',
          'sessions',
          'settings',
          'tickets',
          'users',
        ],
      );
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  });
});

describe('sqlite store', () => {
  test('checkpoints on a worker thread, never inside a commit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-checkpoint-'));
    const file = join(dir, 'parley.db');
    try {
      const store = await openStore(`sqlite:${file}`);
      const empty = (await stat(file)).size;
      // Two or three WAL pages a commit: well past the 1,000 pages at which SQLite's own
      // checkpoint would have run inside one of these commits.
      for (let i = 0; i < 600; i++) await store.append([draft(`room${i % 40}`, `c${i}`)], NOW);
      assert.equal((await stat(file)).size, empty, 'no commit copied the WAL into the file');
      assert.ok((await stat(`${file}-wal`)).size > 1000 * 4096);
      const deadline = Date.now() + 5000;
      while ((await stat(file)).size === empty && Date.now() < deadline) await sleep(50);
      assert.ok((await stat(file)).size > empty, 'the worker copied the WAL into the file');
      await store.close();
      const again = await openStore(`sqlite:${file}`);
      assert.equal(await again.lastSeq('room7'), 15);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('opens a database that kept a counter per room, and numbers on from it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-upgrade-'));
    const file = join(dir, 'parley.db');
    try {
      const old = new Database(file);
      old.exec(`
        CREATE TABLE rooms (room TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, dm_a TEXT, dm_b TEXT) STRICT;
        CREATE TABLE messages (room TEXT NOT NULL, seq INTEGER NOT NULL, cid TEXT NOT NULL,
          sender TEXT NOT NULL, body TEXT NOT NULL, me INTEGER NOT NULL, ts INTEGER NOT NULL,
          PRIMARY KEY (room, seq)) STRICT, WITHOUT ROWID;
        CREATE UNIQUE INDEX messages_cid ON messages(room, cid);
        INSERT INTO rooms VALUES ('lobby', 2, NULL, NULL), ('dm:ann:bob', 1, 'ann', 'bob');
        INSERT INTO messages VALUES ('lobby', 1, 'x1', 'ann', 'one', 0, 1), ('lobby', 2, 'x2', 'ann', 'two', 0, 2),
          ('dm:ann:bob', 1, 'x3', 'ann', 'hi', 0, 3);`);
      old.close();
      const store = await openStore(`sqlite:${file}`);
      assert.deepEqual(roomSeqs(await store.rooms()), [{ room: 'lobby', lastSeq: 2 }]);
      assert.deepEqual(
        (await store.directRooms('bob')).map((d) => d.room),
        ['dm:ann:bob'],
      );
      const [again] = await store.append([draft('lobby', 'resent', { cid: 'x2' })], NOW);
      assert.deepEqual([again?.message.seq, again?.duplicate], [2, true]);
      const [next] = await store.append([draft('lobby', 'three')], NOW);
      assert.equal(next?.message.seq, 3);
      assert.deepEqual(seqs(await store.after('lobby', 0, 10)), [1, 2, 3]);
      await store.close();
      const check = new Database(file, { readonly: true });
      const columns = check.pragma('table_info(rooms)') as { name: string }[];
      check.close();
      assert.deepEqual(
        columns.map((c) => c.name),
        ['room', 'dm_a', 'dm_b'],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the checkpoint thread gives way to the event loop', async (t) => {
    if (process.platform !== 'linux') return t.skip('nice per thread is Linux only');
    /** Each thread's nice value, by thread id. */
    const niceOf = async () => {
      const nice = new Map<number, number>();
      for (const id of await readdir('/proc/self/task')) {
        const st = await readFile(`/proc/self/task/${id}/stat`, 'utf8').catch(() => '');
        // Field 19; the command name before it, in parentheses, may hold spaces.
        if (st) nice.set(Number(id), Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[16]));
      }
      return nice;
    };
    const niced = (m: Map<number, number>) => [...m.values()].filter((n) => n === 19).length;
    const before = niced(await niceOf());
    const dir = await mkdtemp(join(tmpdir(), 'parley-nice-'));
    try {
      const store = await openStore(`sqlite:${join(dir, 'parley.db')}`);
      const deadline = Date.now() + 5000;
      while (niced(await niceOf()) === before && Date.now() < deadline) await sleep(20);
      const nice = await niceOf();
      assert.equal(
        niced(nice),
        before + 1,
        `threads' nice values: ${[...nice.values()].join(' ')}`,
      );
      assert.equal(nice.get(process.pid), 0, 'the event loop keeps its priority');
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('postgres store', () => {
  let admin: pg.Pool;
  before(async () => {
    admin = await requirePostgres(4);
  });
  after(async () => {
    await admin?.end();
  });

  test('refuses a schema name that is not a plain identifier', async () => {
    await assert.rejects(
      openPostgresStore(admin, { schema: 'x"; DROP SCHEMA public; --' }),
      /invalid PostgreSQL schema name/,
    );
  });

  test('creates its schema once when several nodes start together', async () => {
    const schema = `parley_test_${uniqueSuffix()}`;
    const pools = [postgresPool(2), postgresPool(2), postgresPool(2), postgresPool(2)];
    try {
      const stores = await Promise.all(pools.map((p) => openPostgresStore(p, { schema })));
      assert.equal(stores.length, 4);
      await stores[0]?.append([draft('lobby', 'hi')], NOW);
      assert.equal(await stores[3]?.lastSeq('lobby'), 1);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });

  test('rolls back the rows a batch wrote before the database refused it', async () => {
    // The contract suite's bad draft is caught before any write; this one gets as far as the
    // insert (PostgreSQL refuses NUL in text) after the rooms were created and numbered.
    const schema = `parley_test_${uniqueSuffix()}`;
    const pool = postgresPool(2);
    try {
      const store = await openPostgresStore(pool, { schema });
      await store.append([draft('lobby', 'kept')], NOW);
      await assert.rejects(
        store.append(
          [draft('lobby', 'lost'), draft('fresh', 'lost'), draft('lobby', 'nul \u0000')],
          NOW,
        ),
        (err: { code?: string }) => err.code === '22021',
      );
      assert.equal(await store.lastSeq('lobby'), 1);
      assert.equal(await store.lastSeq('fresh'), 0);
      assert.deepEqual(roomSeqs(await store.rooms()), [{ room: 'lobby', lastSeq: 1 }]);
      const [next] = await store.append([draft('lobby', 'next')], NOW);
      assert.equal(next?.message.seq, 2);
    } finally {
      await pool.end();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });

  test('a node that loses the race for a cid retries and returns the winner', async () => {
    // Two nodes look the cid up, find nothing, and queue on the room's row lock; the one that
    // gets it second hits the unique index, rolls back and must answer with the first message.
    const schema = `parley_test_${uniqueSuffix()}`;
    const pools = [postgresPool(2), postgresPool(2)];
    const locker = await admin.connect();
    try {
      const [one, two] = await Promise.all(pools.map((p) => openPostgresStore(p, { schema })));
      assert.ok(one && two);
      await one.append([draft('lobby', 'seed')], NOW);

      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM "${schema}".rooms WHERE room = $1 FOR UPDATE`, ['lobby']);
      const d = draft('lobby', 'from one');
      const p1 = one.append([d], NOW + 1);
      const p2 = two.append([{ ...d, text: 'from two' }], NOW + 2);
      const deadline = Date.now() + 5000;
      for (;;) {
        const waiting = await admin.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query LIKE $1`,
          [`%"${schema}".rooms%`],
        );
        if (Number(waiting.rows[0]?.n) >= 2) break;
        assert.ok(Date.now() < deadline, 'both appends should wait on the room lock');
        await new Promise((r) => setTimeout(r, 10));
      }
      await locker.query('COMMIT');

      const [[r1], [r2]] = await Promise.all([p1, p2]);
      assert.ok(r1 && r2);
      assert.deepEqual([r1.message.seq, r2.message.seq], [2, 2]);
      assert.deepEqual([r1.duplicate, r2.duplicate].sort(), [false, true]);
      assert.deepEqual(r1.message, r2.message);
      assert.equal(await one.lastSeq('lobby'), 2);
      const [next] = await two.append([draft('lobby', 'next')], NOW);
      assert.equal(next?.message.seq, 3, 'the loser gave its number back');
    } finally {
      await locker.query('ROLLBACK').catch(() => {});
      locker.release();
      await Promise.all(pools.map((p) => p.end()));
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });
});
