// The delivery contract on a cluster: three node processes on one PostgreSQL schema and one
// Redis, clients spread across them, while one node is killed with SIGKILL and Redis restarts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultClient, seededRandom } from './fault-client.js';
import { OwnRedis, freshSchema, spawnNode, type NodeProcess } from './cluster-harness.js';
import {
  SEED,
  checkContract,
  allAcked,
  finalResync,
  pick,
  sleep,
  summarize,
  waitFor,
} from './fault-oracle.js';
import { tempDir } from './helpers.js';

test(
  'delivery contract on a three-node cluster: a node killed with SIGKILL, Redis restarted',
  { timeout: 120_000 },
  async () => {
    const started = Date.now();
    const random = seededRandom(SEED + 2);
    const redis = await OwnRedis.start();
    const schema = await freshSchema();
    const args = [
      '--store',
      schema.url(),
      '--bus',
      redis.url,
      '--data-dir',
      tempDir('parley-cluster-'),
      '--rate',
      '100000',
      '--rate-burst',
      '100000',
      '--history-bound',
      '50',
      '--cluster-heartbeat-ms',
      '300',
      '--log-level',
      'info',
    ];
    const nodes: (NodeProcess | undefined)[] = [];
    const rooms = ['east', 'west'];
    const clients: FaultClient[] = [];
    let sending = true;
    let traffic: Promise<unknown> = Promise.resolve();
    try {
      // Schema creation races are the store's to handle, but starting one node first keeps the
      // start-up log clear.
      nodes.push(await spawnNode(args));
      nodes.push(...(await Promise.all([spawnNode(args), spawnNode(args)])));
      /** A client's node: its own while alive, else the next live one, as a load balancer would. */
      const portFor = (i: number) => () => {
        for (let k = 0; k < nodes.length; k++) {
          const n = nodes[(i + k) % nodes.length];
          if (n) return n.port;
        }
        return undefined;
      };
      for (let i = 0; i < 9; i++) {
        clients.push(new FaultClient({ name: `c${i}`, rooms, port: portFor(i), random }));
      }
      for (const c of clients) c.start();
      await waitFor(
        () => clients.every((c) => c.caughtUp()),
        'every client to join',
        15_000,
        clients,
      );

      traffic = Promise.all(
        clients.map(async (c) => {
          for (let i = 0; sending; i++) {
            await sleep(5 + random() * 25);
            if (sending) c.send(pick(random, rooms), `message ${i} from ${c.name}`);
          }
        }),
      );
      await sleep(500 + random() * 500);
      // A node dies: its clients reconnect to another node and resume.
      const victim = nodes[1];
      nodes[1] = undefined;
      await victim?.kill('SIGKILL');
      await sleep(500 + random() * 500);
      // Redis restarts: nodes lose the bell, keep committing, and catch up when it is back.
      await redis.down();
      await sleep(300 + random() * 400);
      await redis.up();
      await sleep(800 + random() * 500);
      sending = false;
      await traffic;

      await allAcked(clients, 30_000);
      await finalResync(clients);
      const moved = clients.filter((c) => c.reconnects >= 2).length;
      summarize('cluster', clients, started, ` nodes=3 killed=1 redisRestarts=1 moved=${moved}`);
      checkContract(clients);
      assert.ok(
        clients.filter((_, i) => i % 3 === 1).every((c) => c.reconnects >= 2),
        "the killed node's clients moved to another node",
      );
    } finally {
      sending = false;
      await traffic;
      for (const c of clients) c.stop();
      for (const n of nodes) await n?.kill('SIGKILL');
      await redis.down();
      await schema.drop();
    }
  },
);
