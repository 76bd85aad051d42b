/**
 * The service API of the integration guide (`TelemetryService`, `SyncService`,
 * `TELEMETRY_CONFIG`) as a thin facade over the SDK. The SDK README maps each guide call.
 */
import type { SyncClient } from '../client.js';
import { resolveClient } from './source.js';
import type { ServiceOptions } from './config.js';
import { SyncService } from './sync-service.js';
import { TelemetryService } from './telemetry-service.js';

export { TELEMETRY_CONFIG, telemetryConfigFromEnv, syncSocketUrl, type ServiceOptions, type TelemetryConfig } from './config.js';
export type { ServiceSource } from './source.js';
export { TelemetryService, type ServiceEvents, type ServiceSyncResult } from './telemetry-service.js';
export { SyncService, type ServiceSyncStatus } from './sync-service.js';

/** One client shared by both services (what an app's `services` module exports). */
export interface Services {
  readonly client: SyncClient;
  readonly telemetry: TelemetryService;
  readonly sync: SyncService;
  /** Stops both and destroys the client. */
  destroy(): Promise<void>;
}

/** A `TelemetryService` and a `SyncService` over one client (document sync on unless `documentSync: false`). */
export function createServices(options: ServiceOptions): Services {
  const { client } = resolveClient(options, true);
  const telemetry = new TelemetryService({ client });
  const sync = new SyncService({ client });
  return {
    client,
    telemetry,
    sync,
    async destroy() {
      await telemetry.destroy();
      await sync.stop();
      await client.destroy();
    },
  };
}
