import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../apps/sync-server/src/config.js';
import { createLogger } from '../../../apps/sync-server/src/logger.js';
import { startServer, type RunningServer, type ServerOverrides } from '../../../apps/sync-server/src/server.js';

/** The real sync server on port 0 with a fresh data directory. */
export interface TestServer extends RunningServer {
  /** `ws://127.0.0.1:<port>/sync` */
  readonly wsUrl: string;
  token(userId: string, expiresInSeconds?: number): Promise<string>;
  /** Every stored event id of a user, read through `GET /api/telemetry/events` page by page. */
  listEventIds(userId: string): Promise<string[]>;
  getJson<T>(path: string, userId: string): Promise<T>;
  /** Graceful stop, keeping the data directory; `restart()` starts again on the same port and data. */
  stopKeepingData(): Promise<void>;
  restart(): Promise<TestServer>;
  close(): Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}, reuseDir?: string, startOptions: ServerOverrides = {}): Promise<TestServer> {
  const dir = reuseDir ?? (await mkdtemp(join(tmpdir(), 'sync-client-it-')));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    ENABLE_SCHEDULED_SYNC: 'false',
    RATE_LIMIT_PER_MINUTE: '0',
    ...env,
  });
  const server = await startServer(config, { logger: createLogger('silent'), ...startOptions });
  const getJson = async <T>(path: string, userId: string): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${await server.tokens.sign(userId)}` } });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    ...server,
    wsUrl: `${server.url.replace(/^http/, 'ws')}/sync`,
    token: (userId, expiresInSeconds) => server.tokens.sign(userId, expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
    getJson,
    async listEventIds(userId) {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = `/api/telemetry/events?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page: { data: { events: { metadata: { eventId: string } }[]; nextCursor: string | null } } = await getJson(q, userId);
        for (const e of page.data.events) ids.push(e.metadata.eventId);
        cursor = page.data.nextCursor;
      } while (cursor);
      return ids;
    },
    stopKeepingData: () => server.stop(),
    restart: () => startTestServer({ ...env, PORT: String(server.port) }, dir, startOptions),
    async close() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What the fault proxy does to one request. */
export type Fault = 'pass' | 'drop-request' | 'drop-response' | 'error-500' | 'rate-429' | 'too-large-413' | 'slow' | 'duplicate';

export interface FaultProxy {
  readonly url: string;
  readonly counts: Record<Fault, number>;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the server that injects faults into `POST /api/telemetry/batch`
 * according to `choose` (tests pass a seeded schedule). Everything else passes through.
 */
export async function startFaultProxy(target: string, choose: (n: number, itemCount: number) => Fault, slowMs = 1500): Promise<FaultProxy> {
  const counts: Record<Fault, number> = { pass: 0, 'drop-request': 0, 'drop-response': 0, 'error-500': 0, 'rate-429': 0, 'too-large-413': 0, slow: 0, duplicate: 0 };
  const targetUrl = new URL(target);
  let n = 0;

  const forward = (req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: targetUrl.host, 'content-length': String(body.length) };
      const out = httpRequest({ hostname: targetUrl.hostname, port: targetUrl.port, path: req.url, method: req.method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string' && k !== 'transfer-encoding' && k !== 'connection') h[k] = v;
          resolve({ status: res.statusCode ?? 502, headers: h, body: Buffer.concat(chunks) });
        });
      });
      out.on('error', reject);
      out.end(body);
    });

  const reply = (res: ServerResponse, r: { status: number; headers: Record<string, string>; body: Buffer }): void => {
    res.writeHead(r.status, { ...r.headers, 'content-length': String(r.body.length) });
    res.end(r.body);
  };
  const error = (res: ServerResponse, status: number, code: string, extra: Record<string, string> = {}): void => {
    const body = Buffer.from(JSON.stringify({ success: false, error: { code, message: 'injected', details: [] } }));
    reply(res, { status, headers: { 'content-type': 'application/json', ...extra }, body });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const isBatch = req.method === 'POST' && req.url?.startsWith('/api/telemetry/batch');
        let fault: Fault = 'pass';
        if (isBatch) {
          let items = 0;
          try {
            items = (JSON.parse(body.toString('utf8')) as { items: unknown[] }).items.length;
          } catch {
            // not ours to judge
          }
          fault = choose(++n, items);
          // A 413 for a single item would be a permanent rejection; the proxy only says it of batches.
          if (fault === 'too-large-413' && items < 2) fault = 'pass';
        }
        counts[fault]++;
        try {
          switch (fault) {
            case 'drop-request':
              req.socket.destroy();
              return;
            case 'drop-response':
              await forward(req, body);
              req.socket.destroy();
              return;
            case 'error-500':
              return error(res, 500, 'INTERNAL');
            case 'rate-429':
              return error(res, 429, 'RATE_LIMITED', { 'retry-after': '1' });
            case 'too-large-413':
              return error(res, 413, 'PAYLOAD_TOO_LARGE');
            case 'slow': {
              await new Promise((r) => setTimeout(r, slowMs));
              return reply(res, await forward(req, body));
            }
            case 'duplicate': {
              const [a] = await Promise.all([forward(req, body), forward(req, body)]);
              return reply(res, a);
            }
            default:
              return reply(res, await forward(req, body));
          }
        } catch {
          if (!res.headersSent) error(res, 502, 'INTERNAL');
        }
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

