import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** apps/sync-server */
export const serverRoot = fileURLToPath(new URL('../..', import.meta.url));

/** tsx's loader by absolute URL, so a child started in any working directory finds it. */
export const tsxLoader = pathToFileURL(join(serverRoot, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>;
  /** Resolves with the URL the server printed. */
  waitForUrl(timeoutMs?: number): Promise<string>;
}

/** Runs `src/main.ts` as `npm start` would, from sources (tsx), with exactly `env`. */
export function spawnMain(env: Record<string, string>, cwd: string = serverRoot): ServerProcess {
  const child = spawn(process.execPath, ['--conditions=@prepmate/source', '--import', tsxLoader, `${serverRoot}/src/main.ts`], {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    output: () => out,
    exited,
    // tsx loads the whole server from sources: seconds of CPU, 16–30 s on a loaded 2-core machine.
    waitForUrl: (timeoutMs = 90_000) =>
      new Promise<string>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`no URL printed within ${timeoutMs} ms:\n${out}`)), timeoutMs);
        const check = (): void => {
          const match = /listening on (http:\/\/\S+)/.exec(out);
          if (match?.[1]) {
            clearTimeout(deadline);
            resolve(match[1]);
          }
        };
        child.stdout?.on('data', check);
        void exited.then((code) => {
          clearTimeout(deadline);
          reject(new Error(`server exited (${code}) before listening:\n${out}`));
        });
        check();
      }),
  };
}

/** Polls `fn` until it returns a truthy value or the deadline passes (no fixed sleeps in tests). */
export async function eventually<T>(fn: () => Promise<T> | T, { timeoutMs = 10_000, intervalMs = 20, message = 'condition' } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${message} not reached within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
