import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ws from 'ws';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  FlushSchedule,
  nextWindow,
  wire,
  type Flushable,
  type Judgement,
  type Work,
} from '../src/server/outlet.js';

// ws's own frame parser (untyped in @types/ws) judges the framing.
interface FrameReceiver {
  on(event: 'message', f: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'error', f: (e: Error) => void): void;
  write(chunk: Buffer): void;
}
const { Receiver } = ws as unknown as {
  Receiver: new (options: { isServer: boolean }) => FrameReceiver;
};

test('frames are framed once, with every length form a client decodes', async () => {
  for (const n of [0, 1, 125, 126, 127, 65535, 65536, 70_000]) {
    const text = 'é'.repeat(Math.floor(n / 2)) + 'x'.repeat(n % 2);
    const frame = { text, bytes: new TextEncoder().encode(text) };
    const buf = wire(frame);
    assert.equal(wire(frame), buf, 'cached per frame');
    const receiver = new Receiver({ isServer: false });
    const got = new Promise<string>((resolve, reject) => {
      receiver.on('message', (data: Buffer, isBinary: boolean) => {
        assert.equal(isBinary, false);
        resolve(data.toString());
      });
      receiver.on('error', reject);
    });
    receiver.write(buf);
    assert.equal(await got, text, `length ${n}`);
  }
});

/** Sockets as the schedule sees them: each write holds the CPU for `costMs`, as a syscall does. */
class FakeSocket implements Flushable {
  pending = 0;
  messages = 0;
  writes = 0;
  private lastWrite = -Infinity;
  constructor(
    private readonly schedule: FlushSchedule,
    private readonly costMs: number,
  ) {}
  push(): void {
    if (this.pending++ === 0) this.schedule.add(this, this.lastWrite);
  }
  flush(): number {
    const n = this.pending;
    this.lastWrite = this.schedule.runStartedAt ?? performance.now();
    this.messages += n;
    this.pending = 0;
    this.writes++;
    const until = performance.now() + this.costMs;
    while (performance.now() < until);
    return n;
  }
}

/** Sends a message to every socket every `everyMs` for `forMs`, then lets the last writes out. */
async function traffic(sockets: FakeSocket[], everyMs: number, forMs: number): Promise<void> {
  const end = performance.now() + forMs;
  while (performance.now() < end) {
    for (const s of sockets) s.push();
    await sleep(everyMs);
  }
  await sleep(120);
}

const total = (sockets: FakeSocket[], key: 'messages' | 'writes') =>
  sockets.reduce((n, s) => n + s[key], 0);

test('while writes are cheap, each message is written at once, in its own write', async () => {
  const schedule = new FlushSchedule(50);
  const sockets = Array.from({ length: 20 }, () => new FakeSocket(schedule, 0));
  await traffic(sockets, 10, 600);
  assert.equal(schedule.windowMs, 0);
  assert.equal(total(sockets, 'writes'), total(sockets, 'messages'));
  assert.equal(schedule.heldFrames, 0);
  assert.equal(schedule.promptFrames, total(sockets, 'messages'));
});

/** Counts what `sockets` get while `load` runs. */
async function during(sockets: FakeSocket[], load: () => Promise<void>) {
  const [messages0, writes0] = [total(sockets, 'messages'), total(sockets, 'writes')];
  const started = performance.now();
  await load();
  return {
    messages: total(sockets, 'messages') - messages0,
    writes: total(sockets, 'writes') - writes0,
    ms: performance.now() - started,
  };
}

/**
 * A loop that is `share()` busy, whatever this process does: the schedule's judgement of load
 * without the shared machine's noise in it (the writes' own time is still real).
 */
function loopAt(share: () => number): () => Work {
  let active = 0;
  let last = performance.now();
  return () => {
    const now = performance.now();
    active += (now - last) * share();
    last = now;
    return { now, active };
  };
}

test('near saturation the window grows, up to its ceiling, and writes carry several messages', async () => {
  let share = 1;
  const schedule = new FlushSchedule(
    50,
    loopAt(() => share),
  );
  // Writing all 100 takes 5 ms, and a message comes every 5 ms: writes are the loop's work.
  const sockets = Array.from({ length: 100 }, () => new FakeSocket(schedule, 0.05));
  await traffic(sockets, 5, 1500);
  const { messages, writes } = await during(sockets, () => traffic(sockets, 5, 1000));
  assert.equal(schedule.windowMs, 50, 'doubled from 1 ms at every judgement');
  // One message a write would be no gathering at all.
  assert.ok(messages >= 1.5 * writes, `${messages} messages in ${writes} writes`);
  assert.ok(schedule.heldFrames > 0);
  assert.ok(
    sockets.every((s) => s.pending === 0),
    'every message was written',
  );

  // Once the loop has headroom again, nothing is held from the next judgement on.
  share = 0.3;
  await traffic(sockets, 10, 300);
  const held = schedule.heldFrames;
  const after = await during(sockets, () => traffic(sockets, 10, 600));
  assert.equal(schedule.windowMs, 0);
  assert.equal(after.writes, after.messages);
  assert.equal(schedule.heldFrames, held);
});

test('with headroom nothing is held, however much of the loop the writes take', async () => {
  const schedule = new FlushSchedule(
    50,
    loopAt(() => 0.8),
  );
  // Writing all 100 takes 10 ms, and a message comes every 5 ms: writes are most of the work.
  const sockets = Array.from({ length: 100 }, () => new FakeSocket(schedule, 0.1));
  await traffic(sockets, 5, 1500);
  assert.equal(schedule.windowMs, 0);
  assert.equal(schedule.heldFrames, 0);
  assert.equal(total(sockets, 'writes'), total(sockets, 'messages'));
});

test('a saturated loop whose writes are little of its work does not gather', async () => {
  const schedule = new FlushSchedule(
    50,
    loopAt(() => 1),
  );
  const sockets = Array.from({ length: 20 }, () => new FakeSocket(schedule, 0));
  await traffic(sockets, 5, 1000);
  assert.equal(schedule.windowMs, 0);
  assert.equal(total(sockets, 'writes'), total(sockets, 'messages'));
});

test('the window, judgement by judgement: none below saturation, then doubling, then none', () => {
  const j = (busy: number, writing: number, held = 0, heldWrites = 0, writes = 100): Judgement => ({
    elapsedMs: 200,
    activeMs: busy * 200,
    writeMs: writing * 200,
    writes,
    held,
    heldWrites,
  });
  // With headroom, whatever the writes take.
  assert.equal(nextWindow(0, 50, j(0.5, 0.5)), 0);
  assert.equal(nextWindow(0, 50, j(0.84, 0.8)), 0);
  // Saturated, but by other work than writes: gathering would not help.
  assert.equal(nextWindow(0, 50, j(0.95, 0.2)), 0);
  // Saturated by writes: from 1 ms, doubling while saturated, up to the ceiling.
  let w = nextWindow(0, 50, j(0.95, 0.6));
  assert.equal(w, 1);
  for (const expected of [2, 4, 8, 16, 32, 50, 50]) {
    w = nextWindow(w, 50, j(0.9, 0.6));
    assert.equal(w, expected);
  }
  // Gathering brought the loop down to 0.6; without it, the 400 frames held in 100 writes
  // would have been 300 more writes (1 ms each): it still needs to gather, a little less.
  w = nextWindow(w, 50, j(0.6, 0.5, 400, 100, 100));
  assert.ok(w < 50 && w >= 25, `window ${w}`);
  // The load went down: without gathering the loop would be 0.65 busy, below the aim.
  assert.equal(nextWindow(w, 50, j(0.6, 0.5, 20, 10, 100)), 0);
  // A ceiling of 0 never gathers.
  assert.equal(nextWindow(0, 0, j(1, 1)), 0);
});

test('a ceiling of 0 writes every socket at the end of every turn, even under a flood', async () => {
  const schedule = new FlushSchedule(0);
  const sockets = Array.from({ length: 100 }, () => new FakeSocket(schedule, 0.2));
  await traffic(sockets, 5, 600);
  assert.equal(schedule.windowMs, 0);
  assert.equal(total(sockets, 'writes'), total(sockets, 'messages'));
  assert.ok(sockets.every((s) => s.pending === 0));
});

test('frames pending for many sockets are joined once and the same bytes go to each', () => {
  const schedule = new FlushSchedule(50);
  const [a, b, c] = ['one', 'two', 'three'].map((t) => Buffer.from(t));
  if (!a || !b || !c) throw new Error('unreachable');
  const first = schedule.joined([a, b], a.length + b.length);
  assert.equal(first.toString(), 'onetwo');
  assert.equal(schedule.joined([a, b], a.length + b.length), first, 'joined once');
  const other = schedule.joined([a, c], a.length + c.length);
  assert.equal(other.toString(), 'onethree');
  assert.equal(schedule.joined([a, b, c], 11).toString(), 'onetwothree');
});

test('writeSoon, queued after the work of a turn, writes in that same check phase, once', async () => {
  const schedule = new FlushSchedule(50);
  const sockets = Array.from({ length: 3 }, () => new FakeSocket(schedule, 0));
  const seen: number[] = [];
  // As the server's defer does: the group commit, then writeSoon, both queued before the
  // check phase; frames pushed inside it would otherwise wait for the next loop iteration.
  const phase = new Promise<void>((resolve) => {
    setImmediate(() => {
      for (const s of sockets) s.push();
      seen.push(total(sockets, 'writes'));
    });
    setImmediate(schedule.writeSoon);
    setImmediate(() => {
      seen.push(total(sockets, 'writes'));
      resolve();
    });
  });
  await phase;
  await sleep(20);
  assert.deepEqual(seen, [0, 3]);
  assert.equal(total(sockets, 'writes'), 3, 'the pass it replaced did not write again');
  assert.equal(total(sockets, 'messages'), 3);
  schedule.writeSoon(); // nothing waits: a no-op
  assert.equal(total(sockets, 'writes'), 3);
});
