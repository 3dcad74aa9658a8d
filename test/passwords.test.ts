// Password hashing: argon2id PHC strings at the stated parameters, verified off the event loop.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARGON2_PARAMS, argon2Passwords } from '../src/server/passwords.js';

test('hashes are argon2id PHC strings that verify, and weaker ones ask for a rehash', async () => {
  const p = argon2Passwords();
  try {
    const h = await p.hash('correct horse');
    assert.match(h, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await p.verify(h, 'correct horse'), true);
    assert.equal(await p.verify(h, 'correct horsE'), false);
    assert.equal(await p.verify('not a hash', 'correct horse'), false);
    assert.notEqual(await p.hash('correct horse'), h, 'each hash has its own salt');
    assert.equal(p.needsRehash(h), false);
    const weak = argon2Passwords({ ...ARGON2_PARAMS, memoryCost: 8192 });
    try {
      const old = await weak.hash('correct horse');
      assert.equal(p.needsRehash(old), true);
      assert.equal(await p.verify(old, 'correct horse'), true, 'an old hash still verifies');
    } finally {
      await weak.close();
    }
    assert.equal(p.needsRehash('$2b$10$abcdefghijklmnopqrstuv'), true);
  } finally {
    await p.close();
  }
});

test('the event loop turns while passwords are hashed, and a flood past 64 is refused', async () => {
  const p = argon2Passwords();
  try {
    let turns = 0;
    const tick = setInterval(() => turns++, 1);
    const hashes = Array.from({ length: 8 }, () => p.hash('correct horse'));
    await Promise.all(hashes);
    clearInterval(tick);
    assert.ok(turns > 8, `the loop turned ${turns} times while 8 hashes ran`);
    const flood = Array.from({ length: 70 }, () =>
      p
        .verify('$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA', 'x')
        .catch((e: Error) => e.message),
    );
    const answers = await Promise.all(flood);
    assert.equal(answers.filter((a) => typeof a === 'string').length, 6);
  } finally {
    await p.close();
  }
});
