import { browserPlatform } from '../browser.js';
import { createSyncClientOn, type SyncClient } from '../client.js';
import { toClientOptions, type ServiceOptions } from './config.js';

/** A service is made from options (it then owns its client) or over an existing client (shared, not owned). */
export type ServiceSource = ServiceOptions | { readonly client: SyncClient };

export interface ResolvedClient {
  readonly client: SyncClient;
  /** The service made the client, so its `stop()`/`destroy()` destroys it. */
  readonly owned: boolean;
}

export function resolveClient(source: ServiceSource, documentSyncDefault: boolean): ResolvedClient {
  if ('client' in source) return { client: source.client, owned: false };
  return { client: createSyncClientOn(source.platform ?? browserPlatform(), toClientOptions(source, documentSyncDefault)), owned: true };
}
