import { statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import pino from 'pino';
import { startServer, type RunningServer } from '../../../src/server.js';
import { tempSqliteDir } from '../../helpers/stores.js';
import { until } from '../harness.js';

const SECRET = 'hostile-learner-http-secret-0123456789';

/** Resolves when the server closes the socket. */
const closedBy = (socket: Socket): Promise<void> => new Promise((resolve) => socket.once('close', () => resolve()));

async function open(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  // Read whatever arrives, so the server's end of the connection is seen.
  socket.resume();
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return socket;
}

/** An anonymous client cannot hold sockets open, probing leaves a trace, and the app is served with security headers. */
describe('hostile learner: HTTP hygiene', () => {
  let server: RunningServer;
  let tmp: Awaited<ReturnType<typeof tempSqliteDir>>;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    tmp = await tempSqliteDir();
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: join(tmp.dir, 'data'),
      AUTH_MODE: 'jwt',
      JWT_SECRET: SECRET,
      LOG_LEVEL: 'warn',
      ENABLE_SCHEDULED_SYNC: 'false',
      HTTP_HEADERS_TIMEOUT_MS: '300',
      HTTP_REQUEST_TIMEOUT_MS: '600',
      HTTP_MAX_CONNECTIONS: '50',
    });
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    server = await startServer(config, { logger });
  });
  afterAll(async () => {
    await server?.stop();
    await tmp?.remove();
  });

  it('when a TCP connection stays silent or sends partial headers, then the server closes it within the headers timeout', async () => {
    const silent = await open(server.port);
    const partial = await open(server.port);
    partial.write('GET /api/health HTTP/1.1\r\nHost: x\r\n');
    const started = Date.now();
    await Promise.all([closedBy(silent), closedBy(partial)]);
    // Generous bound: far below Node's defaults (no limit for a silent socket, 60 s for headers).
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('when the configuration is read, then timeouts and the connection cap are set on the server', () => {
    expect(server.config.HTTP_HEADERS_TIMEOUT_MS).toBe(300);
    expect(server.config.HTTP_MAX_CONNECTIONS).toBe(50);
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000' })).toThrow(/HTTP_REQUEST_TIMEOUT_MS/);
  });

  it('when a WebSocket upgrade is refused, then a warn line names status and path but never the token', async () => {
    const token = 'not.a-valid.token-secretish';
    const socket = await open(server.port);
    socket.write(`GET /sync/alice?token=${token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await closedBy(socket);
    const line = await until(() => lines.find((l) => l['msg'] === 'sync: upgrade refused'), 'refusal logged');
    expect(line).toMatchObject({ status: 401, code: 'UNAUTHORIZED', path: '/sync/alice' });
    expect(JSON.stringify(lines)).not.toContain(token);
  });

  it('when any answer is sent, then it carries nosniff, no framing and a same-origin CSP', async () => {
    const res = await fetch(`${server.url}/api/health`);
    await res.arrayBuffer();
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('when the SQLite store is created, then the data directory is 0700 and the database file 0600', () => {
    const dir = join(tmp.dir, 'data');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'prepmate.sqlite')).mode & 0o777).toBe(0o600);
  });
});
