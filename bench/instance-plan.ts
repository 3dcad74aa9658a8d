// Who is where in the instance scenario: people, their rooms (a long tail of sizes) and direct
// conversations, and the loopback address each connects from. Built from a seed, so that the
// bench and every load generator build the same plan without sending it.

/** A small, fast, seeded generator (mulberry32): the same plan in every process. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** People who share one loopback address, as behind one NAT. */
export const PEOPLE_PER_ADDRESS = 40;
export const ROOMS_MIN = 3;
export const ROOMS_MAX = 8;
/** Direct conversations per person, on average. */
export const DIRECT_PER_PERSON = 1.5;
/** The few rooms of thousands, as shares of everyone (4,000, 2,000 and 1,000 of 19,000). */
const BIG_SHARES = [0.21, 0.105, 0.053];
/** Of the other rooms, this share has 51 to 500 members; the rest 5 to 50. */
const MID_SHARE = 0.03;

export interface Conversation {
  /** A room's index (`r<index>`), or for a direct conversation -1 - the other person's index. */
  id: number;
}

export interface Plan {
  people: number;
  /** Members of each room, by room index (rooms are named r0, r1, ...: the largest first). */
  rooms: number[][];
  /** Each person's rooms (indices into `rooms`). */
  roomsOf: number[][];
  /** Each person's direct conversations (the other person's index). */
  directOf: number[][];
}

export const personName = (i: number) => `u${i}`;
export const roomName = (r: number) => `r${r}`;

/** The loopback address of a person: 127.1.x.y, PEOPLE_PER_ADDRESS people each. */
export function addressOf(i: number): string {
  const g = Math.floor(i / PEOPLE_PER_ADDRESS);
  return `127.1.${Math.floor(g / 250)}.${1 + (g % 250)}`;
}

/** A size drawn uniformly on a log scale between lo and hi. */
function logUniform(rand: () => number, lo: number, hi: number): number {
  return Math.round(Math.exp(Math.log(lo) + rand() * (Math.log(hi) - Math.log(lo))));
}

export function buildPlan(people: number, seed = 21): Plan {
  const rand = seeded(seed);
  const want = Array.from(
    { length: people },
    () => ROOMS_MIN + Math.floor(rand() * (ROOMS_MAX - ROOMS_MIN + 1)),
  );
  let total = want.reduce((a, b) => a + b, 0);
  const sizes: number[] = [];
  for (const share of BIG_SHARES) {
    const s = Math.max(5, Math.round(share * people));
    sizes.push(s);
    total -= s;
  }
  while (total > 0) {
    const s = rand() < MID_SHARE ? logUniform(rand, 51, 500) : logUniform(rand, 5, 50);
    const size = Math.min(s, total, people);
    sizes.push(size);
    total -= size;
  }
  sizes.sort((a, b) => b - a);

  // Each room takes distinct people among those with places left (the largest rooms first).
  const left = want.slice();
  const pool = Array.from({ length: people }, (_, i) => i);
  const mark = new Int32Array(people).fill(-1);
  const rooms: number[][] = [];
  const roomsOf: number[][] = Array.from({ length: people }, () => []);
  for (const size of sizes) {
    const r = rooms.length;
    const members: number[] = [];
    let tries = 0;
    while (members.length < size && pool.length > 0 && tries < size * 20) {
      tries++;
      const at = Math.floor(rand() * pool.length);
      const p = pool[at] ?? 0;
      if (mark[p] === r) continue;
      mark[p] = r;
      members.push(p);
      const places = (left[p] ?? 1) - 1;
      left[p] = places;
      if (places === 0) {
        pool[at] = pool[pool.length - 1] ?? 0;
        pool.pop();
      }
    }
    // The last few draws may find only people already in the room: a room needs three people.
    if (members.length < 3) {
      for (const p of members) left[p] = (left[p] ?? 0) + 1;
      continue;
    }
    rooms.push(members);
    for (const p of members) (roomsOf[p] ??= []).push(r);
  }

  const directOf: number[][] = Array.from({ length: people }, () => []);
  const pairs = Math.round((people * DIRECT_PER_PERSON) / 2);
  const seen = new Set<number>();
  for (let k = 0, tries = 0; k < pairs && tries < pairs * 10; tries++) {
    const a = Math.floor(rand() * people);
    const b = Math.floor(rand() * people);
    if (a === b) continue;
    const key = Math.min(a, b) * people + Math.max(a, b);
    if (seen.has(key)) continue;
    seen.add(key);
    (directOf[a] ??= []).push(b);
    (directOf[b] ??= []).push(a);
    k++;
  }
  return { people, rooms, roomsOf, directOf };
}

/** What the plan amounts to, for the report. */
export function describePlan(plan: Plan): {
  rooms: number;
  memberships: number;
  direct: number;
  largest: number[];
  over200: number;
  median: number;
} {
  const sizes = plan.rooms.map((m) => m.length).sort((a, b) => b - a);
  return {
    rooms: sizes.length,
    memberships: sizes.reduce((a, b) => a + b, 0),
    direct: plan.directOf.reduce((a, d) => a + d.length, 0) / 2,
    largest: sizes.slice(0, 5),
    over200: sizes.filter((s) => s > 200).length,
    median: sizes[Math.floor(sizes.length / 2)] ?? 0,
  };
}
