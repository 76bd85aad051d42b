import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';

/** A database name FerretDB accepts too (letters, digits, `_`; well under its 63-character limit). */
function freshDatabaseName(): string {
  return `t_${Date.now().toString(36)}_${randomBytes(5).toString('hex')}`;
}

/**
 * `MONGODB_URI` with a fresh random database name, so suites and tests never see each other's
 * data; null when the variable is unset. Works for multi-host URIs (no `new URL`).
 */
export function mongoUriForTests(): string | null {
  const base = process.env['MONGODB_URI'];
  if (base === undefined || base.trim() === '') return null;
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(?:\/[^?]*)?(\?.*)?$/.exec(base.trim());
  if (match === null) throw new Error(`MONGODB_URI is not a mongodb:// URI: ${base}`);
  return `${match[1]}/${freshDatabaseName()}${match[2] ?? ''}`;
}

export interface RequiredService<T> {
  /** Environment variable that configures the service, e.g. `MONGODB_URI`. */
  readonly env: string;
  /** The configured value, or null when unset. */
  readonly value: T | null;
  /** How to provide it, printed with the skip. */
  readonly hint: string;
}

/**
 * Defines `suite` when the service is configured. Otherwise it prints why it skipped — and with
 * `CI=true` it fails instead, because a CI run that silently skips proves nothing.
 */
export function describeWithService<T>(suite: string, service: RequiredService<T>, define: (value: T) => void): void {
  if (service.value !== null) {
    const value = service.value;
    describe(suite, () => define(value));
    return;
  }
  if (process.env['CI'] === 'true') {
    describe(suite, () => {
      it(`${service.env} is required in CI`, () => {
        throw new Error(`${suite} needs ${service.env} and CI=true forbids skipping it. ${service.hint}`);
      });
    });
    return;
  }
  console.warn(`[skipped] ${suite}: ${service.env} is not set. ${service.hint}`);
  describe.skip(suite, () => {
    it(`needs ${service.env}`, () => undefined);
  });
}

/** A new empty directory under the OS temp dir, and a function that removes it. */
export async function tempSqliteDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'prepmate-sqlite-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Polls `check` until it returns true or the deadline passes; no fixed sleeps in tests. */
export async function eventually(check: () => Promise<boolean> | boolean, { timeoutMs = 5000, intervalMs = 10 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
