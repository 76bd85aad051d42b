/**
 * @prepmate/sync-client — the offline-first SDK: a telemetry outbox with exactly-once delivery
 * and the learner document synced over y-websocket. Browser entry; Node services use
 * `@prepmate/sync-client/node`.
 */
export { createIdGenerator, parseEventId, eventIdTime, type EventId, type RandomSource } from './ids.js';
export * from './ports.js';
export { Emitter, type EventMap } from './emitter.js';
export type { OutboxItem, OutboxLimits, OutboxStats, AppendResult, ItemType, JsonObject, JsonValue } from './outbox/types.js';
export { QuotaError, type OutboxStorage } from './outbox/storage.js';
export { createMemoryOutboxStorage } from './outbox/memory-storage.js';
export { createIndexedDbOutboxStorage, type IndexedDbOutboxOptions } from './outbox/indexeddb-storage.js';
export { backoffDelay, type BackoffOptions } from './outbox/backoff.js';
export {
  createHttpTransport,
  importSigningKey,
  parseRetryAfter,
  signBatchBody,
  type BatchSigning,
  type BatchSigner,
  type BatchTransport,
  type FetchLike,
  type GetToken,
  type HttpTransportOptions,
  type ItemResult,
  type SendOptions,
  type SendOutcome,
  type WireItem,
} from './outbox/transport.js';
export {
  createTelemetry,
  DrainTimeoutError,
  LearnerErasedError,
  type DrainOptions,
  type DrainResult,
  type FlushReason,
  type FlushResult,
  type Telemetry,
  type TelemetryEvents,
  type TelemetryOptions,
  type TelemetryStatus,
} from './outbox/telemetry.js';
export { createSyncClient, browserPlatform, readBrowserStoredView } from './browser.js';
export { readStoredView, type ReadStoredViewOptions, type StoredViewRecord } from './doc/stored-view.js';
export { createSyncClientOn, type Platform, type SyncClient, type SyncClientEvents, type SyncClientOptions, type SyncStatus } from './client.js';
export { AckTracker, MESSAGE_DURABLE_ACK, readDurableAckBody, isUpdateCarrying, stateVectorCovers, type DurableAck } from './doc/ack.js';
export { connectDocument, type DocConnection, type DocConnectionOptions, type WebSocketConstructor } from './doc/connection.js';
export { SERVER_CLOSE_CODES, type ServerClose, type ServerCloseReason } from './doc/server-close.js';
export { createIndexedDbDocPersistence, indexedDbDocPersistence, docDatabaseName, docRescuePrefix, type DocPersistence, type DocPersistenceFactory, type IndexedDbDocPersistenceOptions } from './doc/persistence.js';
export type { UpdateListener } from './doc/quiet-load.js';
export {
  TELEMETRY_CONFIG,
  telemetryConfigFromEnv,
  syncSocketUrl,
  createServices,
  TelemetryService,
  SyncService,
  type ServiceOptions,
  type ServiceSource,
  type ServiceEvents,
  type ServiceSyncResult,
  type ServiceSyncStatus,
  type Services,
  type TelemetryConfig,
} from './services/index.js';
export { forgetLocalData, localDatabaseNames, type ForgetLocalDataOptions } from './forget.js';
