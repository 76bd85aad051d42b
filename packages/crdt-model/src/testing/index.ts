/**
 * Helpers for tests and benchmarks of every workspace (`@prepmate/crdt-model/testing`). Not part
 * of the model's API: nothing under `src/` outside this folder imports it.
 */
export { mulberry32 } from './mulberry32.js';
export { writeHeavyYear, type HeavyYearOptions } from './heavy-year.js';
