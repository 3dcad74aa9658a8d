import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ws from 'ws';
import { wire } from '../src/server/outlet.js';

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
