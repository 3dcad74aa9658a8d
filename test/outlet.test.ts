import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ws from 'ws';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlushSchedule, wire, type Flushable } from '../src/server/outlet.js';

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
  assert.ok(schedule.windowMs <= 1, `window ${schedule.windowMs} ms`);
  assert.equal(total(sockets, 'writes'), total(sockets, 'messages'));
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

test('under a flood the window grows, up to its ceiling, and writes carry several messages', async () => {
  const schedule = new FlushSchedule(50);
  // Writing all 100 takes 20 ms, and a message comes every 5 ms: writes alone would need
  // four times the event loop.
  const sockets = Array.from({ length: 100 }, () => new FakeSocket(schedule, 0.2));
  await traffic(sockets, 5, 1000);
  const { messages, writes } = await during(sockets, () => traffic(sockets, 5, 1000));
  assert.ok(schedule.windowMs > 10, `window ${schedule.windowMs} ms`);
  assert.ok(schedule.windowMs <= 50, `window ${schedule.windowMs} ms`);
  // One message a write would be no gathering at all.
  assert.ok(messages >= 1.5 * writes, `${messages} messages in ${writes} writes`);
  assert.ok(
    sockets.every((s) => s.pending === 0),
    'every message was written',
  );

  // Once the flood is over, the window comes back down to its floor: a quiet second, then cheap
  // writes for long enough to be judged a few times.
  await sleep(1000);
  await traffic([new FakeSocket(schedule, 0)], 10, 600);
  assert.ok(schedule.windowMs <= 3, `window ${schedule.windowMs} ms once the flood is over`);
});

test('under a sustained flood writes keep to less of the loop, for headroom', async () => {
  const schedule = new FlushSchedule(50);
  // Writing all 100 takes 10 ms, and a message comes every 5 ms: twice the event loop.
  const sockets = Array.from({ length: 100 }, () => new FakeSocket(schedule, 0.1));
  await traffic(sockets, 5, 2000);
  const { writes, messages, ms } = await during(sockets, () => traffic(sockets, 5, 1500));
  // At the edge, the writes would take half the loop (about 20 writes a socket a second).
  const share = (writes * 0.1) / ms;
  assert.ok(share < 0.4, `writes took ${(share * 100).toFixed(0)}% of the loop`);
  assert.ok(messages >= 2 * writes, `${messages} messages in ${writes} writes`);
});

test('after a sustained flood, a load below the edge is written a message at a time again', async () => {
  const schedule = new FlushSchedule(50);
  const flood = Array.from({ length: 100 }, () => new FakeSocket(schedule, 0.1));
  await traffic(flood, 5, 1500);
  // Writes that take 40% of the loop: below the edge, but above the share a sustained load aims
  // for; gathered as long as the flood still counted.
  const steady = Array.from({ length: 20 }, () => new FakeSocket(schedule, 0.2));
  await traffic(steady, 10, 3500);
  // The writes cost real time here, so a stall of the shared machine can look like load for a
  // moment: the schedule must settle back to a message a time, if not in the first window then
  // in one of the next two.
  let seen = '';
  for (let i = 0; i < 3; i++) {
    const { writes, messages } = await during(steady, () => traffic(steady, 10, 800));
    if (schedule.windowMs <= 1 && writes === messages) return;
    seen += ` window ${schedule.windowMs} ms, ${writes} writes for ${messages} messages;`;
  }
  assert.fail(`still gathering:${seen}`);
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
