/**
 * Mulberry32: a tiny seeded PRNG, uniform in [0, 1). Tests and benchmarks use it so that random
 * scenarios (fault schedules, drain orders, generated data) replay exactly from their seed;
 * `Math.random` cannot be seeded. One copy for the whole repository, so every seed means the same
 * sequence everywhere.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
