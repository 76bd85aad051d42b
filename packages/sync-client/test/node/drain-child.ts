/**
 * A Node "batch job" for node-drain.test.ts, run as a child process: it captures events through
 * the SDK's Node entry, then (by MODE) exits at once, flushes, or drains. It prints one JSON line
 * and never calls process.exit: whether the process stays alive is what the test observes.
 */
import { createSyncClient, DrainTimeoutError } from '../../src/node/index.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};
const mode = env('MODE') as 'capture' | 'flush-then-drain' | 'drain';
const apiBaseUrl = env('API_URL');
const userId = env('USER_ID');
const token = env('TOKEN');

const client = createSyncClient({
  apiBaseUrl,
  wsUrl: `${apiBaseUrl.replace(/^http/, 'ws')}/sync`,
  userId,
  getToken: () => token,
  dataDir: env('DATA_DIR'),
  documentSync: false,
  telemetry: { backoff: { baseMs: 50, maxMs: 200 } },
});
await client.ready;
const count = Number(env('COUNT'));
for (let i = 0; i < count; i++) await client.captureEvent('import_row', { i, mode });
const started = Date.now();
const out: Record<string, unknown> = { mode, queued: client.status().queuedEvents };

if (mode === 'flush-then-drain') {
  const flushed = await client.flush();
  out['flush'] = { error: flushed.error ?? null, remaining: flushed.remaining };
}
if (mode === 'flush-then-drain' || mode === 'drain') {
  const timeoutMs = Number(env('TIMEOUT_MS'));
  try {
    out['drain'] = await client.drain({ timeoutMs });
  } catch (err) {
    if (!(err instanceof DrainTimeoutError)) throw err;
    out['drainError'] = { name: err.name, remaining: err.remaining, lastError: err.lastError, waitedAtLeastTimeout: Date.now() - started >= timeoutMs - 5 };
    process.exitCode = 3;
  }
}
out['after'] = client.status().queuedEvents;
// No destroy(), no process.exit(): the process ends when nothing holds it.
process.stdout.write(`${JSON.stringify(out)}\n`);
