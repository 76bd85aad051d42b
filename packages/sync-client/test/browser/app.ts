/** The page of the Chromium tests: exposes the browser SDK to `page.evaluate`. */
import { createSyncClient, type SyncClient } from '../../src/index.js';

declare global {
  // eslint-disable-next-line no-var
  var sdk: {
    client: SyncClient | null;
    start(userId: string, batchSize: number, documentSync?: boolean): Promise<void>;
  };
}

globalThis.sdk = {
  client: null,
  async start(userId, batchSize, documentSync = false) {
    const getToken = async (): Promise<string> => {
      const res = await fetch('/api/auth/dev-token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) });
      return ((await res.json()) as { token: string }).token;
    };
    const client = createSyncClient({
      apiBaseUrl: location.origin,
      wsUrl: `${location.origin.replace(/^http/, 'ws')}/sync`,
      userId,
      getToken,
      documentSync,
      compressRequests: false,
      telemetry: { batchSize, syncIntervalMs: 3_600_000 },
    });
    globalThis.sdk.client = client;
    await client.ready;
  },
};
