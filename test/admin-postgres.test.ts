// `npm run admin` on a PostgreSQL store: a ban written by the command line closes the person's
// connection on each of two nodes sharing the store, within a second or two.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../src/server/admin.js';
import { freshSchema } from './cluster-harness.js';
import { TestClient, startTestServer, type TestServer } from './helpers.js';

async function registered(server: TestServer, name: string): Promise<TestClient> {
  const c = await TestClient.json(server);
  const r = await c.request({ type: 'register', name, password: 'correct horse battery' });
  assert.equal(r.type, 'result', JSON.stringify(r));
  return c;
}

test('a ban from the command line closes the connections on every node of the store', async () => {
  const pg = await freshSchema();
  const store = pg.url();
  const a = await startTestServer({ guests: 'on', store });
  const b = await startTestServer({ guests: 'on', store });
  try {
    const onA = await registered(a, 'Bob');
    const onB = await TestClient.json(b);
    const login = await onB.request({
      type: 'login',
      name: 'Bob',
      password: 'correct horse battery',
    });
    assert.equal(login.type, 'result', JSON.stringify(login));

    const err: string[] = [];
    const code = await main(
      ['ban', 'bob', '30m', 'spam', '--store', store],
      { out: () => {}, err: (l) => err.push(l) },
      {},
    );
    assert.equal(code, 0, err.join('\n'));
    const start = Date.now();
    assert.equal(await onA.closed(3000), 4003);
    assert.equal(await onB.closed(3000), 4003);
    const ms = Date.now() - start;
    assert.ok(ms < 2000, `both closed within ${ms} ms of the ban`);
  } finally {
    await a.dispose();
    await b.dispose();
    await pg.drop();
  }
});
