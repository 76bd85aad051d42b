import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { tempSqliteDir } from '../helpers/stores.js';
import { rawSocket } from '../helpers/sync.js';

export interface RealServer {
  readonly server: RunningServer;
  /** Status of `GET /api/progress` (or `path`) with this bearer token. */
  rest(token: string, path?: string): Promise<number>;
  /** 101 when the upgrade to `/sync/<docName>` succeeds (the socket is closed again), else the refusal status. */
  upgrade(token: string, docName: string): Promise<number>;
  close(): Promise<void>;
}

/** The composition root (`startServer`) on 127.0.0.1 port 0 with SQLite in a temporary directory. */
export async function startRealServer(env: Record<string, string>): Promise<RealServer> {
  const tmp = await tempSqliteDir();
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: tmp.dir, LOG_LEVEL: 'silent', ENABLE_SCHEDULED_SYNC: 'false', ...env });
  const server = await startServer(config);
  const wsBase = server.url.replace(/^http/, 'ws');
  return {
    server,
    async rest(token, path = '/api/progress') {
      const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      return res.status;
    },
    async upgrade(token, docName) {
      const result = await rawSocket(`${wsBase}/sync/${encodeURIComponent(docName)}?token=${encodeURIComponent(token)}`);
      if ('status' in result) return result.status;
      await new Promise<void>((resolve) => {
        result.ws.once('close', () => resolve());
        result.ws.close();
      });
      return 101;
    },
    async close() {
      await server.stop();
      await tmp.remove();
    },
  };
}
