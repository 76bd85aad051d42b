import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, spawnMain, type ServerProcess } from '../../helpers/process.js';

/**
 * A zero-configuration start must not be an open server: dev tokens only on the developer's own
 * machine, never in production, and no page from elsewhere may call it from a browser.
 */
describe('hostile learner: the zero-config default is not an open server', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'prepmate-defaults-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('when NODE_ENV=production and AUTH_MODE is unset, then the server refuses to start naming AUTH_MODE', async () => {
    const child = spawnMain({ PORT: '0', NODE_ENV: 'production', DATA_DIR: tempDir() });
    try {
      // Either it exits, or it starts listening (the defect): whichever comes first.
      const outcome = await Promise.race([child.exited.then((code) => `exit ${code}`), child.waitForUrl().then(() => 'listening', () => 'no url')]);
      expect(outcome, child.output()).toBe('exit 1');
      expect(child.output()).toMatch(/AUTH_MODE/);
    } finally {
      if (child.child.exitCode === null) child.child.kill('SIGKILL');
    }
  });

  describe('with no HOST, no AUTH_MODE, no CLIENT_URL', () => {
    let server: ServerProcess;
    let url: string;
    beforeAll(async () => {
      server = spawnMain({ PORT: '0', LOG_LEVEL: 'warn', DATA_DIR: tempDir() });
      url = await server.waitForUrl();
    });
    afterAll(async () => {
      if (server?.child.exitCode === null) {
        server.child.kill('SIGTERM');
        await server.exited;
      }
    });

    it('when started, then it binds loopback only and warns that anyone can mint tokens', async () => {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // stderr and stdout are two pipes: their order on arrival is not guaranteed.
      await eventually(() => /ANYONE WHO CAN REACH THIS SERVER CAN MINT A TOKEN/.test(server.output()), { message: 'the dev-mode warning' });
    });

    it('when a page from another site asks for a dev token, then CORS does not let it read the answer; the developer\'s own pages still can', async () => {
      const ask = (origin: string) =>
        fetch(`${url}/api/auth/dev-token`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
      const evil = await ask('https://evil.example');
      expect(evil.headers.get('access-control-allow-origin')).toBeNull();
      const local = await ask('http://localhost:5173');
      expect(local.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    });
  });
});
