/**
 * Worker thread of the validation pool: validates batch items with the crdt-model schemas off
 * the main thread, so that with several requests in flight the main thread writes one batch
 * to the store while the next one is being checked. Messages: `{ id, items }` in,
 * `{ id, results }` out; no state kept between messages.
 */
import { parentPort } from 'node:worker_threads';
import { validateItem } from './parse.js';
import { SAME_AS_INPUT, isVerbatimEvent, type WorkerResult } from './item-validator-messages.js';

interface Request {
  readonly id: number;
  readonly items: readonly unknown[];
}

const port = parentPort;
if (port) {
  port.on('message', (message: Request) => {
    const results = message.items.map((raw): WorkerResult => {
      const validation = validateItem(raw);
      // Copying results back costs the main thread more than validating saved; a valid event
      // whose parsed form equals its input is answered with a marker instead of a copy.
      return validation.ok && isVerbatimEvent(raw) ? SAME_AS_INPUT : validation;
    });
    port.postMessage({ id: message.id, results });
  });
}
