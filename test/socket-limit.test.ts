import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import test from 'node:test';
import { TrustedProxies } from '../src/server/client-address.js';
import { SocketLimit } from '../src/server/socket-limit.js';
import { waitFor } from './helpers.js';

/** Opens `n` sockets from `from` and resolves with how each ended: 'open', 'reset' or 'closed'. */
function flood(port: number, from: string, n: number) {
  const ends: string[] = [];
  const sockets = Array.from({ length: n }, () => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: from });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') ends.push('reset');
    });
    s.on('close', () => ends.push('closed'));
    return s;
  });
  return { ends, sockets };
}

test('a connection past its address limit is reset before Node makes it a Socket', async () => {
  const refused: string[] = [];
  const limit = new SocketLimit(2, new TrustedProxies([]), (a) => refused.push(a));
  const server = net.createServer();
  let served = 0;
  server.on('connection', () => served++);
  limit.watch(server);
  // Sees every Socket Node builds, let in or not.
  let built = 0;
  server.prependListener('connection', () => built++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const { ends, sockets } = flood(port, '127.0.0.2', 6);
  try {
    await waitFor(() => refused.length === 4, `4 refused (${refused.length})`);
    await waitFor(() => ends.filter((e) => e === 'reset').length === 4, 'the 4 refused reset');
    assert.equal(served, 2);
    assert.equal(built, 2, 'no Socket was built for a refused connection');
    assert.deepEqual([...new Set(refused)], ['127.0.0.2']);

    // Another address is let in beside the full one.
    const other = flood(port, '127.0.0.3', 1);
    await waitFor(() => served === 3, 'the other address served');
    other.sockets[0]?.destroy();
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test('a trusted proxy is never refused at accept', async () => {
  const refused: string[] = [];
  const limit = new SocketLimit(1, new TrustedProxies(['127.0.0.2']), (a) => refused.push(a));
  const server = net.createServer();
  let served = 0;
  server.on('connection', () => served++);
  limit.watch(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const { sockets } = flood(port, '127.0.0.2', 5);
  try {
    await waitFor(() => served === 5, `all 5 served (${served})`);
    assert.equal(refused.length, 0);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});
