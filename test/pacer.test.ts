// The page's token bucket: it keeps under the rate and burst the server states, on a clock the
// test moves by hand.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FALLBACK_RATE, PACE_MARGIN, Pacer, REFUSED_PAUSE_MS } from '../src/client/pacer.js';

/** How many requests the pacer lets out from t=0 to `ms`, asking every millisecond. */
function allowed(p: Pacer, ms: number, from = 0): number {
  let n = 0;
  for (let t = from; t <= from + ms; t++) {
    while (p.take(t) === 0) n++;
  }
  return n;
}

test('the pacer allows less than the stated burst at once, and less than the rate after', () => {
  const rate = { ratePerSecond: 20, rateBurst: 40 };
  const p = new Pacer(rate, 0);
  const burst = allowed(p, 0);
  assert.equal(burst, Math.floor(40 * PACE_MARGIN));
  assert.ok(burst < rate.rateBurst);
  // Ten seconds later, at most the rate with the margin (plus the burst already counted).
  const more = allowed(p, 10_000, 1);
  assert.ok(more <= 10 * 20 * PACE_MARGIN + 1, `${more} in 10 s`);
  assert.ok(more >= 10 * 20 * PACE_MARGIN - 1, `${more} in 10 s`);
});

test('an empty pacer says how long until the next token, and takes none meanwhile', () => {
  const p = new Pacer({ ratePerSecond: 10, rateBurst: 2 }, 0);
  assert.equal(p.take(0), 0);
  const wait = p.take(0);
  assert.ok(wait > 0);
  assert.ok(p.take(wait - 1) > 0, 'not yet');
  assert.equal(p.take(wait), 0, 'then one');
});

test('after a refusal the pacer is quiet for a while, whatever it had', () => {
  const p = new Pacer({ ratePerSecond: 20, rateBurst: 40 }, 0);
  p.refused(0);
  const wait = p.take(0);
  assert.ok(wait >= REFUSED_PAUSE_MS, `waits ${wait} ms`);
});

test('a reset starts full; rates that make no sense fall back to a cautious one', () => {
  const p = new Pacer({ ratePerSecond: 20, rateBurst: 40 }, 0);
  allowed(p, 0);
  p.reset({ ratePerSecond: 20, rateBurst: 40 }, 5);
  assert.equal(allowed(p, 0, 5), 30);
  for (const bad of [
    { ratePerSecond: 0, rateBurst: 40 },
    { ratePerSecond: Number.NaN, rateBurst: 40 },
    { ratePerSecond: 20, rateBurst: -1 },
  ]) {
    const q = new Pacer(bad, 0);
    assert.equal(allowed(q, 0), Math.floor(FALLBACK_RATE.rateBurst * PACE_MARGIN));
  }
});
