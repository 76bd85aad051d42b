import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import { validateItem, type ItemValidation } from './parse.js';
import { resultOf, type WorkerResult } from './item-validator-messages.js';

/**
 * Validates batch items with the crdt-model schemas. A port so that ingestion can validate in
 * process (the default, and what small batches use) or in worker threads.
 */
export interface ItemValidator {
  validate(items: readonly unknown[]): Promise<ItemValidation[]>;
  close(): Promise<void>;
}

/** Validation on the calling thread. */
export function createInlineValidator(): ItemValidator {
  return {
    validate: async (items) => items.map(validateItem),
    close: async () => {},
  };
}

export interface WorkerValidatorOptions {
  readonly logger: Logger;
  /** Worker threads; default: one less than the cores, at least 1. */
  readonly threads?: number;
  /**
   * Batches smaller than this are validated inline: below it, copying the items to a worker
   * and back costs more than it saves. Default 32.
   */
  readonly minItems?: number;
  /** The worker script; default `item-validator-worker`. Tests pass a failing one. */
  readonly entry?: URL;
}

/**
 * Built, the worker is plain JavaScript beside this file. Run from TypeScript source (tsx,
 * vitest), it is TypeScript too, and a worker does not inherit the parent's loader hooks:
 * a small ESM bootstrap registers tsx's loader in the worker first, then imports it.
 */
function workerEntry(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./item-validator-worker.js', import.meta.url);
  // The ESM build of tsx's API (its CommonJS build cannot register hooks from a data: URL).
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const source = new URL('./item-validator-worker.ts', import.meta.url).href;
  const bootstrap = `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(source)});\n`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}

interface Pending {
  readonly resolve: (results: WorkerResult[]) => void;
  readonly reject: (error: Error) => void;
}

interface Slot {
  worker: Worker | null;
  readonly pending: Map<number, Pending>;
  /** Deaths since the last answer; after `MAX_RESTARTS` the slot stays down. */
  failures: number;
  dead: boolean;
}

/** A worker that cannot even start (e.g. its file is missing) must not be respawned forever. */
const MAX_RESTARTS = 3;

/**
 * A pool of validation workers. Validation is CPU work that would otherwise hold the event loop
 * while another request's store write could proceed; in workers it overlaps with the writes.
 * A worker that dies fails only its in-flight batches over to inline validation and is
 * replaced (up to 3 times in a row), so a request never fails because of the pool.
 */
export function createWorkerValidator(options: WorkerValidatorOptions): ItemValidator {
  const { logger } = options;
  const threads = Math.max(1, options.threads ?? availableParallelism() - 1);
  const minItems = options.minItems ?? 32;
  const inline = createInlineValidator();
  const entry = options.entry ?? workerEntry();
  let nextId = 0;
  let closed = false;

  const start = (s: Slot): void => {
    const worker = new Worker(entry);
    worker.unref();
    s.worker = worker;
    let ended = false;
    worker.on('message', (message: { id: number; results: WorkerResult[] }) => {
      s.failures = 0;
      const p = s.pending.get(message.id);
      s.pending.delete(message.id);
      p?.resolve(message.results);
    });
    // 'error' is followed by 'exit': handle whichever comes first, once per worker.
    const fail = (error: Error): void => {
      if (ended) return;
      ended = true;
      for (const p of s.pending.values()) p.reject(error);
      s.pending.clear();
      if (closed) return;
      s.failures += 1;
      if (s.failures >= MAX_RESTARTS) {
        s.dead = true;
        logger.error({ err: error }, 'validation worker keeps failing; validating inline from now on');
        return;
      }
      logger.warn({ err: error }, 'validation worker stopped; replacing it');
      start(s);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`validation worker exited with code ${code}`)));
  };
  const slots: Slot[] = Array.from({ length: threads }, () => {
    const s: Slot = { worker: null, pending: new Map(), failures: 0, dead: false };
    start(s);
    return s;
  });

  return {
    async validate(items) {
      const live = slots.filter((s): s is Slot & { worker: Worker } => !s.dead && s.worker !== null);
      if (closed || items.length < minItems || live.length === 0) return inline.validate(items);
      // The least busy worker: batches differ in size, so round-robin could queue behind a big one.
      const slot = live.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
      const id = nextId++;
      try {
        const results = await new Promise<WorkerResult[]>((resolve, reject) => {
          slot.pending.set(id, { resolve, reject });
          slot.worker.postMessage({ id, items });
        });
        return results.map((r, i) => resultOf(items[i], r));
      } catch (error) {
        logger.warn({ err: error }, 'validation worker failed; validating inline');
        return inline.validate(items);
      }
    },
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker?.terminate()));
      for (const s of slots) for (const p of s.pending.values()) p.reject(new Error('validator closed'));
    },
  };
}
