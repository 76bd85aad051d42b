/** The one seeded PRNG of tests and benchmarks (they print the seed and replay it exactly). */
export { mulberry32 } from '@prepmate/crdt-model/testing';
