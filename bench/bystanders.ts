// The bystanders of the attack and logins scenarios: plain-text clients in the lobby, each from
// its own loopback address, talking at a steady rate; what they measure is their own messages'
// latency (sent to received by every one of them) and what never arrived.

import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { sleep } from './processes.js';

export const BYSTANDERS = 20;
export const EACH_PER_SECOND = 2;

interface Bystander {
  ws: WebSocket;
  got: Set<string>;
}

export interface Collected {
  /** Every latency, in ms, sorted. */
  latencies: number[];
  /** Messages sent in the window that some bystander never received. */
  missing: number;
  /** Refusals ("! ..." lines) the bystanders got. */
  refused: number;
  /** Presence lines ("* x joined #lobby") the bystanders got, all of them together. */
  presence: number;
}

export class Bystanders {
  readonly clients: Bystander[] = [];
  private latencies: number[] = [];
  private sent = new Set<string>();
  private refused = 0;
  private presence = 0;
  private sending: ReturnType<typeof setInterval>[] = [];

  constructor(private readonly wsPort: number) {}

  async connect(): Promise<void> {
    for (let i = 0; i < BYSTANDERS; i++) this.clients.push(await this.open(`127.0.0.${10 + i}`));
    await sleep(500);
  }

  /** A server just started may still be busy and shed a handshake (503): tried again, as the page would. */
  private async open(localAddress: string, tries = 10): Promise<Bystander> {
    const ws = new WebSocket(`ws://127.0.0.1:${this.wsPort}`, { localAddress });
    const me: Bystander = { ws, got: new Set() };
    ws.on('message', (data) => this.receive(me, data.toString()));
    ws.on('error', () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      return me;
    } catch (e) {
      if (tries <= 1 || !String(e).includes('503')) throw e;
      await sleep(1000);
      return this.open(localAddress, tries - 1);
    }
  }

  private receive(me: Bystander, text: string): void {
    const now = performance.now();
    for (const line of text.split('\n')) {
      const m = /: b (\d+) (\d+) ([\d.]+)$/.exec(line);
      if (m) {
        const key = `${m[1]}/${m[2]}`;
        if (!me.got.has(key)) {
          me.got.add(key);
          if (this.sent.has(key)) this.latencies.push(now - Number(m[3]));
        }
      } else if (line.startsWith('! ')) this.refused++;
      else if (/^\* .* (joined|left) #/.test(line)) this.presence++;
    }
  }

  start(): void {
    this.latencies = [];
    this.sent = new Set();
    this.refused = 0;
    this.presence = 0;
    for (const c of this.clients) c.got.clear();
    this.clients.forEach((c, i) => {
      let n = 0;
      const send = () => {
        if (c.ws.readyState !== WebSocket.OPEN) return;
        const key = `${i}/${n}`;
        this.sent.add(key);
        c.ws.send(`b ${i} ${n++} ${performance.now().toFixed(3)}`);
      };
      // Spread the senders over the interval so the load is smooth.
      const t = setTimeout(
        () => {
          send();
          this.sending.push(setInterval(send, 1000 / EACH_PER_SECOND));
        },
        (i * 1000) / EACH_PER_SECOND / BYSTANDERS,
      );
      this.sending.push(t as unknown as ReturnType<typeof setInterval>);
    });
  }

  /** Stops sending; what was sent still arrives until `collect`. */
  halt(): void {
    for (const t of this.sending) clearInterval(t);
    this.sending = [];
  }

  collect(): Collected {
    this.halt();
    let missing = 0;
    for (const c of this.clients) for (const key of this.sent) if (!c.got.has(key)) missing++;
    const latencies = this.latencies.sort((x, y) => x - y);
    return { latencies, missing, refused: this.refused, presence: this.presence };
  }

  close(): void {
    for (const c of this.clients) c.ws.terminate();
  }
}
