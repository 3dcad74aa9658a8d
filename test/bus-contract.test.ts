// One contract for every Bus adapter: a new backend is a new file plus one line at the bottom of
// this suite. `a` and `b` are two nodes' buses (for the in-process bus, the same one).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { Bus, BusEvent } from '../src/bus/index.js';
import { createLocalBus } from '../src/bus/index.js';
import { openBus } from '../src/bus/open-bus.js';
import { createRedisBus, encodeEvent, parseEvent } from '../src/bus/redis.js';
import { messageEntry, sentEntry, type ChatMessage } from '../src/protocol/index.js';
import { REDIS_URL, requireRedis, uniqueSuffix } from './services.js';

interface BusPair {
  a: Bus;
  b: Bus;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function eventually(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Everything a bus delivers to one subscriber. */
function collect(bus: Bus): BusEvent[] {
  const seen: BusEvent[] = [];
  bus.subscribe((e) => seen.push(e));
  return seen;
}

function wire(seq: number): ChatMessage {
  return {
    room: 'lobby',
    seq,
    from: 'Zoë',
    text: `hello ${seq} 👋\n"x"`,
    ts: 1e12 + seq,
    cid: `c${seq}`,
    me: false,
  };
}

function msg(seq: number, node = 'n1'): BusEvent {
  return { kind: 'entry', node, entry: messageEntry(wire(seq)) };
}

const presence: BusEvent = {
  kind: 'presence',
  node: 'n2',
  room: 'dev',
  key: 'ann',
  name: 'Ann',
  event: 'join',
};
const typing: BusEvent = { kind: 'typing', node: 'n2', room: 'dev', key: 'ann', name: 'Ann' };
const heartbeat: BusEvent = {
  kind: 'node',
  node: 'n2',
  rooms: [{ room: 'dev', lastSeq: 7, members: [['ann', 'Ann']] }],
};
const bye: BusEvent = { kind: 'bye', node: 'n2' };

function busContract(name: string, make: () => Promise<BusPair>): void {
  describe(`bus contract: ${name}`, () => {
    const it = (title: string, body: (p: BusPair) => Promise<void>): void => {
      test(title, async () => {
        const p = await make();
        try {
          await body(p);
        } finally {
          await p.cleanup();
        }
      });
    };

    it('delivers every kind of event to subscribers of both nodes', async ({ a, b }) => {
      const onA = collect(a);
      const onB = collect(b);
      const onB2 = collect(b);
      const sent = [msg(1), presence, typing, heartbeat, bye];
      for (const e of sent) a.publish(e);
      await eventually(
        'three events on b',
        () => onB.length >= 3 && onB2.length >= 3 && onA.length >= 3,
      );
      await sleep(20); // and no more than that
      assert.deepEqual(onB, sent);
      assert.deepEqual(onB2, sent);
      assert.deepEqual(onA, sent);
    });

    it('keeps one publisher’s order', async ({ a, b }) => {
      const onA = collect(a);
      const onB = collect(b);
      const sent = Array.from({ length: 200 }, (_, i) => msg(i + 1));
      for (const e of sent) a.publish(e);
      await eventually('200 events', () => onB.length >= 200 && onA.length >= 200);
      assert.deepEqual(onB, sent);
      assert.deepEqual(onA, sent);
    });

    it('delivers in both directions', async ({ a, b }) => {
      const onA = collect(a);
      const onB = collect(b);
      b.publish(msg(1, 'from-b'));
      a.publish(msg(1, 'from-a'));
      await eventually('two events each', () => onA.length >= 2 && onB.length >= 2);
      const nodes = (es: BusEvent[]) => es.map((e) => e.node).sort();
      assert.deepEqual(nodes(onA), ['from-a', 'from-b']);
      assert.deepEqual(nodes(onB), ['from-a', 'from-b']);
    });

    it('never calls a subscriber from inside publish', async ({ a }) => {
      const onA = collect(a);
      assert.equal(a.publish(msg(1)), undefined);
      assert.equal(onA.length, 0);
      await eventually('the event', () => onA.length === 1);
    });

    it('answers ping', async ({ a, b }) => {
      await a.ping();
      await b.ping();
    });
  });
}

// ---- adapters ---------------------------------------------------------------------------------

busContract('local', async () => {
  const bus = createLocalBus();
  return { a: bus, b: bus, cleanup: () => bus.close() };
});

/** Two clients for one node's bus; the subscriber reconnects as in production. */
function nodeClients(autoResubscribe = true): { pub: Redis; sub: Redis } {
  const pub = new Redis(REDIS_URL, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  const sub = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true, autoResubscribe });
  pub.on('error', () => {});
  sub.on('error', () => {});
  return { pub, sub };
}

async function waitForSubscribers(admin: Redis, channel: string, n: number): Promise<void> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const [, count] = (await admin.pubsub('NUMSUB', channel)) as [string, number];
    if (count >= n) return;
    if (Date.now() > deadline) assert.fail(`${count} of ${n} subscribers on ${channel}`);
    await sleep(5);
  }
}

busContract('redis', async () => {
  const admin = await requireRedis();
  const channel = `parley:test:${uniqueSuffix()}`;
  // Node a comes from the URL as the server opens it; node b from clients made here.
  const a = await openBus(`${REDIS_URL}?channel=${encodeURIComponent(channel)}`);
  const { pub, sub } = nodeClients();
  await Promise.all([pub.connect(), sub.connect()]);
  const b = createRedisBus(pub, sub, { channel });
  await waitForSubscribers(admin, channel, 2);
  return {
    a,
    b,
    async cleanup() {
      await a.close();
      await b.close();
      await Promise.all([pub.quit(), sub.quit(), admin.quit()]);
    },
  };
});

// ---- what only some adapters have --------------------------------------------------------------

describe('redis bus', () => {
  test('ignores malformed payloads on its channel', async () => {
    const admin = await requireRedis();
    const channel = `parley:test:${uniqueSuffix()}`;
    const { pub, sub } = nodeClients();
    try {
      await Promise.all([pub.connect(), sub.connect()]);
      const bus = createRedisBus(pub, sub, { channel });
      const seen = collect(bus);
      await waitForSubscribers(admin, channel, 1);
      const junk = [
        'not json',
        '',
        'null',
        '42',
        '[]',
        '"msg"',
        '{}',
        '{"kind":"msg","node":"x"}',
        '{"kind":"msg","node":"x","message":{"room":"lobby","seq":"1"}}',
        JSON.stringify({ kind: 'msg', node: 'n1', message: { ...wire(1), seq: 1.5 } }),
        '{"kind":"presence","node":"x","room":"dev","name":"ann","event":"dance"}',
        '{"kind":"typing","node":"x","room":"dev"}',
        '{"kind":"typing","room":"dev","name":"ann"}',
        '{"kind":"presence","node":"x","room":"dev","name":"ann","event":"join"}',
        '{"kind":"node","node":"x","rooms":[{"room":"dev","lastSeq":"7","members":[]}]}',
        '{"kind":"node","node":"x","rooms":[{"room":"dev","lastSeq":7,"members":[["ann"]]}]}',
        '{"kind":"bye"}',
        '{"kind":"explode","node":"x"}',
        '{"kind":"msg","node":"x","message":',
      ];
      for (const j of junk) await admin.publish(channel, j);
      // Extra fields are dropped rather than passed on.
      await admin.publish(channel, JSON.stringify({ ...typing, extra: 'field' }));
      await admin.publish(channel, encodeEvent(msg(7)));
      await eventually('the good events', () => seen.length >= 2);
      await sleep(20);
      assert.deepEqual(seen, [typing, msg(7)]);
      await bus.close();
    } finally {
      pub.disconnect();
      sub.disconnect();
      admin.disconnect();
    }
  });

  test('a message entry goes on the bus as the msg payload it always was', () => {
    assert.deepEqual(JSON.parse(encodeEvent(msg(3))), {
      kind: 'msg',
      node: 'n1',
      message: wire(3),
    });
    assert.deepEqual(
      parseEvent(JSON.stringify({ kind: 'msg', node: 'n1', message: wire(3) })),
      msg(3),
    );
  });

  test("a message's sender id goes beside the msg payload, and may be missing", () => {
    const sent: BusEvent = {
      kind: 'entry',
      node: 'n1',
      entry: sentEntry(wire(4), 'u_0123456789abcdef'),
    };
    assert.deepEqual(JSON.parse(encodeEvent(sent)), {
      kind: 'msg',
      node: 'n1',
      message: wire(4),
      fromId: 'u_0123456789abcdef',
    });
    assert.deepEqual(parseEvent(encodeEvent(sent)), sent);
    // An earlier node sends none: the entry has no id, as before.
    assert.equal(
      (parseEvent(JSON.stringify({ kind: 'msg', node: 'n1', message: wire(4) })) as typeof sent)
        .entry.actorId,
      null,
    );
    assert.equal(
      parseEvent(JSON.stringify({ kind: 'msg', node: 'n1', message: wire(4), fromId: 7 })),
      undefined,
    );
  });

  test('parseEvent accepts exactly the event shapes', () => {
    for (const e of [
      msg(3),
      presence,
      { ...presence, event: 'leave' as const },
      typing,
      heartbeat,
      bye,
    ]) {
      assert.deepEqual(parseEvent(encodeEvent(e)), e);
    }
    assert.equal(parseEvent('{"kind":"msg","node":"x","message":null}'), undefined);
  });

  test('publish does not throw while Redis is unreachable; ping says so', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    const dead = { host: '127.0.0.1', port: 1, lazyConnect: true, retryStrategy: () => null };
    const pub = new Redis({ ...dead, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const sub = new Redis({ ...dead, maxRetriesPerRequest: 0 });
    pub.on('error', () => {});
    sub.on('error', () => {});
    const opened = await openBus('redis://127.0.0.1:1');
    try {
      const bus = createRedisBus(pub, sub, { channel: 'parley:test:dead' });
      for (let i = 1; i <= 100; i++) {
        assert.equal(bus.publish(msg(i)), undefined);
        assert.equal(opened.publish(msg(i)), undefined);
      }
      await assert.rejects(bus.ping());
      await assert.rejects(opened.ping());
      await sleep(100);
      assert.deepEqual(rejections, []);
      const started = Date.now();
      await Promise.all([bus.close(), opened.close()]);
      assert.ok(Date.now() - started < 1000, 'close does not wait for a dead server');
      bus.publish(msg(101)); // after close: still quiet
      assert.equal(pub.status, 'end');
    } finally {
      // Ended clients are left alone: disconnect() would arm a 2 s timer on their dead socket.
      for (const c of [pub, sub]) if (c.status !== 'end') c.disconnect();
      await sleep(10);
      process.off('unhandledRejection', onRejection);
    }
    assert.deepEqual(rejections, []);
  });

  // With ioredis's own resubscription off, only the bus can have restored the subscription.
  for (const autoResubscribe of [true, false]) {
    test(`fires onResync after the subscriber is cut off, once subscribed again (ioredis autoResubscribe ${autoResubscribe})`, async () => {
      const admin = await requireRedis();
      const channel = `parley:test:${uniqueSuffix()}`;
      const one = nodeClients();
      const two = nodeClients(autoResubscribe);
      try {
        await Promise.all([
          one.pub.connect(),
          one.sub.connect(),
          two.pub.connect(),
          two.sub.connect(),
        ]);
        const victim = Number(await two.sub.client('ID'));
        const a = createRedisBus(one.pub, one.sub, { channel });
        const b = createRedisBus(two.pub, two.sub, { channel });
        const onB = collect(b);
        let resyncs = 0;
        let aResyncs = 0;
        a.onResync(() => aResyncs++);
        // The first thing a node does on resync may be to read the store; anything published from
        // then on must reach it, so publish right inside the handler.
        b.onResync(() => {
          resyncs++;
          a.publish(msg(100 + resyncs));
        });
        await waitForSubscribers(admin, channel, 2);
        a.publish(msg(1));
        await eventually('the first event', () => onB.length === 1);
        assert.equal(resyncs, 0, 'no resync on the first connection');

        assert.equal(await admin.client('KILL', 'ID', String(victim)), 1);
        await eventually('a resync', () => resyncs === 1);
        await eventually('the event published on resync', () => onB.length === 2);
        assert.deepEqual(onB, [msg(1), msg(101)]);
        a.publish(msg(2));
        await eventually('live events again', () => onB.length === 3);
        assert.deepEqual(onB[2], msg(2));
        await b.ping();
        assert.equal(resyncs, 1);
        assert.equal(aResyncs, 0, 'the node that was not cut off does not resync');
        await a.close();
        await b.close();
      } finally {
        for (const c of [one.pub, one.sub, two.pub, two.sub, admin]) c.disconnect();
      }
    });
  }
});

describe('openBus', () => {
  test('gives the in-process bus for no URL and for local', async () => {
    for (const url of [undefined, '', 'local']) {
      const bus = await openBus(url);
      assert.equal(bus.shared, false, 'a node alone: no heartbeat');
      const seen = collect(bus);
      bus.publish(typing);
      await eventually('the event', () => seen.length === 1);
      await bus.ping();
      await bus.close();
    }
  });

  test('refuses an unknown URL with a message that says what works', async () => {
    await assert.rejects(
      () => openBus('nats://user:secret@host:4222'),
      (err: Error) => {
        assert.match(err.message, /unknown bus URL/);
        assert.match(err.message, /redis:\/\//);
        assert.doesNotMatch(err.message, /secret/);
        return true;
      },
    );
  });

  test('closes its Redis connections', async () => {
    const admin = await requireRedis();
    const channel = `parley:test:${uniqueSuffix()}`;
    const name = `parley-test-${uniqueSuffix()}`;
    try {
      const bus = await openBus(`${REDIS_URL}?channel=${channel}&connectionName=${name}`);
      await waitForSubscribers(admin, channel, 1);
      await bus.ping();
      assert.equal(bus.shared, true, 'other nodes listen: the heartbeat runs');
      const count = async () =>
        String(await admin.client('LIST'))
          .split('\n')
          .filter((l) => l.includes(`name=${name} `)).length;
      assert.equal(await count(), 2);
      await bus.close();
      const deadline = Date.now() + 2000;
      while ((await count()) > 0 && Date.now() < deadline) await sleep(10);
      assert.equal(await count(), 0);
      const [, subs] = (await admin.pubsub('NUMSUB', channel)) as [string, number];
      assert.equal(subs, 0);
    } finally {
      admin.disconnect();
    }
  });
});
