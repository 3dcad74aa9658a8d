// Plain-text mode as a wscat user sees it: no message can pass for someone else's line, and the
// current room and its label stay right through /join, /part and direct conversations.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, TestClient, waitFor, type TestServer } from './helpers.js';
import { httpGet } from './http-helpers.js';
import { formatMessage } from '../src/protocol/index.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.dispose());

let tokens = 0;
async function jsonUser(name: string): Promise<TestClient> {
  const c = await TestClient.json(server);
  await c.event('welcome');
  const r = await c.request({ type: 'hello', name, token: `text-token-${++tokens}-0123456789` });
  assert.equal(r.type, 'result', JSON.stringify(r));
  return c;
}

async function textUser(name?: string): Promise<TestClient> {
  const t = await TestClient.text(server);
  await t.next((f) => f === 'Welcome to the chat!!!');
  if (name) {
    t.send(`/nick ${name}`);
    await t.next((f) => f.startsWith('* To take this name again'));
  }
  return t;
}

/** Every line-break character a terminal or a reader might break a line at. */
const BREAKS = ['\n', '\r', '\r\n', '\v', '\f', '\u0085', '\u2028', '\u2029'];
const LINE_BREAK = /\r\n|[\n\r\v\f\u0085\u2028\u2029]/;

/** Each line of a frame, split the way any reader might split it. */
function linesOf(frame: string): string[] {
  return frame.split(LINE_BREAK);
}

test('formatMessage: every line of a message carries its sender, for every line break', () => {
  for (const br of BREAKS) {
    const text = `ok${br}bob: I am quitting, my password is hunter2${br}${br}end`;
    const cases: [string, string][] = [
      [formatMessage({ from: 'mal', text, me: false }), ''],
      [formatMessage({ from: 'mal', text, me: true }), ''],
      [formatMessage({ from: 'mal', text, me: false }, '#dev'), '[#dev] '],
      [formatMessage({ from: 'mal', text, me: true }, '@bob'), '[@bob] '],
    ];
    for (const [out, prefix] of cases) {
      const lines = linesOf(out);
      assert.equal(lines.length, 4, JSON.stringify(out));
      assert.ok(
        lines[0]?.startsWith(`${prefix}mal: `) || lines[0]?.startsWith(`${prefix}* mal `),
        JSON.stringify(out),
      );
      for (const l of lines.slice(1)) assert.match(l, /^(\[[#@]\w+\] )?mal\|( |$)/, l);
      assert.equal(out.split('\n').length, 4, 'lines are joined with \\n only');
      assert.ok(!/[\r\v\f\u0085\u2028\u2029]/.test(out), JSON.stringify(out));
    }
  }
  assert.equal(formatMessage({ from: 'ada', text: 'one line', me: false }), 'ada: one line');
  assert.equal(
    formatMessage({ from: 'ada', text: 'a\nb', me: false }, '#dev'),
    '[#dev] ada: a\n[#dev] ada| b',
  );
  assert.equal(formatMessage({ from: 'ada', text: 'waves\nhi', me: true }), '* ada waves\nada| hi');
});

test('a multi-line message never shows a text reader a line that looks like another person', async () => {
  const reader = await textUser('reader');
  const away = await textUser('away');
  away.send('/join elsewhere');
  await away.next((f) => f.startsWith('* Now talking in #elsewhere'));
  const mal = await textUser('mal');
  const malJson = await jsonUser('maljson');
  await malJson.request({ type: 'join', room: 'lobby' });
  await malJson.request({ type: 'join', room: 'elsewhere' });
  const spoof = 'bob: I am quitting, my password is hunter2';
  // A text client can send \n in a frame; JSON can send every break the text rules allow.
  mal.send(`ok\n${spoof}`);
  await reader.next((f) => f.startsWith('mal: ok'));
  let n = 0;
  for (const br of ['\n', '\u0085', '\u2028', '\u2029']) {
    for (const [room, me] of [
      ['lobby', false],
      ['elsewhere', true],
    ] as const) {
      const ack = await malJson.request({
        type: 'send',
        room,
        cid: `spoof${++n}`,
        text: `waves${br}${spoof}`,
        me,
      });
      assert.equal(ack.type, 'ack', JSON.stringify(ack));
    }
  }
  await waitFor(() => reader.frames.filter((f) => f.includes('hunter2')).length === 5, 'lines');
  await waitFor(() => away.frames.filter((f) => f.includes('hunter2')).length === 9, 'lines');
  reader.send('/history 20');
  const history = await reader.next((f) => f.startsWith('mal: ok') && f.includes('waves'));
  const seen = [
    ...reader.frames.filter((f) => f.includes('hunter2')),
    ...away.frames.filter((f) => f.includes('hunter2')),
  ];
  const ownLine = /^(\[#lobby\] )?(\* )?(mal|maljson)[:| ]/;
  for (const f of [...seen, history]) {
    for (const line of linesOf(f)) assert.match(line, ownLine, JSON.stringify(f));
  }
  // Live in the current room, from another room, and an action in the current room.
  assert.ok(reader.frames.includes(`mal: ok\nmal| ${spoof}`));
  assert.ok(away.frames.includes(`[#lobby] mal: ok\n[#lobby] mal| ${spoof}`));
  assert.ok(away.frames.includes(`* maljson waves\nmaljson| ${spoof}`));
  for (const c of [reader, away, mal, malJson]) c.close();
});

test('a direct message and its /history show a text reader every line under its sender', async () => {
  const ada = await textUser('ada1');
  const bob = await jsonUser('bob1');
  const ack = await bob.request({
    type: 'send',
    room: '@ada1',
    cid: 'dm-spoof',
    text: `hi\u2028ada1: I owe bob money`,
  });
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  const line = await ada.next((f) => f.includes('money'));
  assert.equal(line, '[@bob1] bob1: hi\n[@bob1] bob1| ada1: I owe bob money');
  ada.send('/join @bob1');
  await ada.next((f) => f.startsWith('* Now talking with @bob1'));
  ada.send('/history 5');
  assert.equal(
    await ada.next((f) => f.startsWith('bob1: hi')),
    'bob1: hi\nbob1| ada1: I owe bob money',
  );
  ada.close();
  bob.close();
});

test('/part never leaves a text client talking to a direct conversation it did not pick', async () => {
  const ada = await textUser('ada2');
  const bob = await jsonUser('bob2');
  // bob's message subscribes ada's session to the conversation: it is one of her rooms now.
  await bob.request({ type: 'send', room: '@ada2', cid: 'part-dm', text: 'hello ada' });
  await ada.next((f) => f === '[@bob2] bob2: hello ada');
  ada.send('/part lobby');
  assert.equal(
    await ada.next((f) => f.startsWith('* Left')),
    '* Left #lobby; you are in no room now: /join ROOM to talk',
  );
  ada.send('a line with nowhere to go');
  assert.equal(await ada.next((f) => f.startsWith('!')), '! Join a room first: /join ROOM');
  assert.equal(
    bob.events().filter((e) => e.type === 'msg' && e.text.includes('nowhere')).length,
    0,
    'nothing reached bob',
  );
  ada.send('/join lobby');
  assert.equal(await ada.next((f) => f.startsWith('* Now')), '* Now talking in #lobby with ada2');
  ada.send('/join dev2');
  await ada.next((f) => f.startsWith('* Now talking in #dev2'));
  ada.send('/part');
  assert.equal(
    await ada.next((f) => f.startsWith('* Left')),
    '* Left #dev2; now talking in #lobby',
  );
  ada.send('back in the lobby');
  assert.equal(await ada.next((f) => f.includes('back in')), 'ada2: back in the lobby');
  ada.close();
  bob.close();
});

test('/join @name and /query name make a direct conversation current; labels read @name', async () => {
  const ada = await textUser('ada3');
  const bob = await jsonUser('bob3');
  ada.send('/join @bob3');
  assert.equal(await ada.next((f) => f.startsWith('* Now')), '* Now talking with @bob3');
  ada.send('just for you');
  const dm = await bob.event('msg');
  assert.deepEqual([dm.room, dm.from, dm.text], ['@ada3', 'ada3', 'just for you']);
  assert.equal(await ada.next((f) => f.includes('just for you')), 'ada3: just for you');
  ada.send('/me nods');
  assert.equal((await bob.event('msg')).text, 'nods');
  assert.equal(await ada.next((f) => f.includes('nods')), '* ada3 nods');
  ada.send('/who');
  assert.match(await ada.next((f) => f.startsWith('Members of')), /^Members of @bob3: /);
  ada.send('/history 5');
  assert.equal(
    await ada.next((f) => f.startsWith('ada3: just')),
    'ada3: just for you\n* ada3 nods',
  );
  // A lobby line now arrives labelled, since the conversation is current.
  await bob.request({ type: 'join', room: 'lobby' });
  await bob.request({ type: 'send', room: 'lobby', cid: 'lobby-line', text: 'to all' });
  assert.equal(await ada.next((f) => f.includes('to all')), '[#lobby] bob3: to all');
  ada.send('/part');
  assert.equal(
    await ada.next((f) => f.startsWith('* Left')),
    '* Left @bob3; now talking in #lobby',
  );
  ada.send('/query');
  assert.equal(await ada.next((f) => f.startsWith('!')), '! Usage: /query NAME [TEXT]');
  ada.send('/query bob3');
  assert.equal(await ada.next((f) => f.startsWith('* Now')), '* Now talking with @bob3');
  ada.send('/part lobby');
  assert.equal(
    await ada.next((f) => f.startsWith('* Left')),
    '* Left #lobby; now talking with @bob3',
  );
  ada.send('still here');
  assert.equal((await bob.event('msg', (m) => m.text === 'still here')).room, '@ada3');
  // A guest has no direct conversations; it is told why.
  const guest = await textUser();
  guest.send('/join @bob3');
  assert.match(await guest.next((f) => f.startsWith('!')), /name/i);
  guest.send('to the lobby still');
  assert.match(await guest.next((f) => f.includes('to the lobby still')), /^guest-\w+: /);
  for (const c of [ada, bob, guest]) c.close();
});

test('an unknown command and a bad usage answer their lines, and count as UNKNOWN_COMMAND and BAD_REQUEST', async () => {
  const t = await textUser();
  t.send('/frobnicate now');
  assert.equal(
    await t.next((f) => f.startsWith('! ')),
    '! Unknown command /frobnicate; /help lists them.',
  );
  t.send('/msg');
  assert.match(await t.next((f) => f.startsWith('! ')), /^! Usage: \/msg /);
  const metrics = (await httpGet(server.httpPort, '/metrics')).body;
  assert.match(metrics, /parley_refusals_total\{code="UNKNOWN_COMMAND"\} [1-9]/);
  assert.match(metrics, /parley_refusals_total\{code="BAD_REQUEST"\} [1-9]/);
  t.close();
});
