import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './server-helper.js';

/**
 * A Node service that captures and exits, with a real server and a real child process: the SDK's
 * timers do not keep the process alive; `flush()` resolves (not rejects) when the server is down;
 * `drain()` holds the process until the outbox is empty or rejects at its deadline.
 */

const repoRoot = resolve(import.meta.dirname, '../../..');
const child = resolve(import.meta.dirname, 'node/drain-child.ts');

interface ChildRun {
  readonly code: number | null;
  readonly out: Record<string, unknown>;
}

/** Runs the child to its natural end (the test's own timeout bounds it). */
function runChild(env: Record<string, string>): Promise<ChildRun> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, ['--conditions=@prepmate/source', '--import', 'tsx', child], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('error', fail);
    p.on('close', (code) => {
      const line = stdout.trim().split('\n').pop();
      if (!line) return fail(new Error(`child printed nothing (code ${code}): ${stderr}`));
      done({ code, out: JSON.parse(line) as Record<string, unknown> });
    });
  });
}

async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let server: TestServer;
let dataDir: string;
beforeAll(async () => {
  server = await startTestServer();
  dataDir = await mkdtemp(join(tmpdir(), 'sdk-drain-'));
});
afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('a Node service that captures telemetry and exits', () => {
  it('when it only captures, it exits with the events kept; flush() resolves with the error; drain() waits and then rejects with the count; the next start drains everything', async () => {
    const userId = `drain-${process.pid}`;
    const token = await server.token(userId);
    const down = `http://127.0.0.1:${await deadPort()}`;
    const base = { USER_ID: userId, TOKEN: token, DATA_DIR: dataDir };

    // 1. Capture and return: nothing keeps the process alive, the events stay in the file outbox.
    const captured = await runChild({ ...base, MODE: 'capture', API_URL: down, COUNT: '5' });
    expect(captured).toEqual({ code: 0, out: { mode: 'capture', queued: 5, after: 5 } });

    // 2. Server down: flush() resolves with the network error and what is left; drain() rejects at its deadline.
    const failed = await runChild({ ...base, MODE: 'flush-then-drain', API_URL: down, COUNT: '2', TIMEOUT_MS: '1500' });
    expect(failed.code).toBe(3);
    expect(failed.out).toEqual({
      mode: 'flush-then-drain',
      queued: 7,
      flush: { error: 'fetch failed', remaining: 7 },
      drainError: { name: 'DrainTimeoutError', remaining: 7, lastError: 'fetch failed', waitedAtLeastTimeout: true },
      after: 7,
    });
    expect(await server.listEventIds(userId)).toEqual([]);

    // 3. The next start, server up: drain() sends the 7 left plus 3 new ones, then the process ends by itself.
    const drained = await runChild({ ...base, MODE: 'drain', API_URL: server.url, COUNT: '3', TIMEOUT_MS: '30000' });
    expect(drained.code).toBe(0);
    // The start-up round may send the 7 before drain() begins counting: at least the 3 new ones are its own.
    expect(drained.out).toMatchObject({ mode: 'drain', after: 0, drain: { rejected: 0 } });
    expect((drained.out['drain'] as { confirmed: number }).confirmed).toBeGreaterThanOrEqual(3);
    expect(await server.listEventIds(userId)).toHaveLength(10);
  });
});
