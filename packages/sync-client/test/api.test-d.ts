/**
 * Type-level tests of the public API (checked by `tsc -p tsconfig.test.json`, not run): no `any`
 * leaks out, events carry their payload types, ids are branded.
 */
import { expectTypeOf } from 'vitest';
import type { LearnerDocument } from '@prepmate/crdt-model';
import {
  createSyncClient,
  createTelemetry,
  type EventId,
  type FlushResult,
  type SyncClient,
  type SyncStatus,
  type Telemetry,
  type TelemetryStatus,
} from '../src/index.js';
import { SyncService, TelemetryService, TELEMETRY_CONFIG, type ServiceSyncStatus, type TelemetryConfig } from '../src/index.js';
import { createSyncClient as createNodeClient, createFileOutboxStorage } from '../src/node/index.js';

type IsAny<T> = 0 extends 1 & T ? true : false;

declare const client: SyncClient;
expectTypeOf(client.document).toEqualTypeOf<LearnerDocument>();
expectTypeOf(client.captureEvent('x', { a: 1 })).toEqualTypeOf<Promise<EventId>>();
expectTypeOf(client.flush()).toEqualTypeOf<Promise<FlushResult>>();
expectTypeOf(client.status()).toEqualTypeOf<SyncStatus>();
expectTypeOf<SyncStatus['unsavedChanges']>().toEqualTypeOf<number>();
expectTypeOf<SyncStatus['telemetry']>().toEqualTypeOf<TelemetryStatus>();
expectTypeOf<IsAny<Parameters<SyncClient['on']>[1]>>().toEqualTypeOf<false>();

client.on('sync:complete', (e) => {
  expectTypeOf(e.stored).toEqualTypeOf<number>();
  expectTypeOf(e.reason).toEqualTypeOf<import('../src/index.js').FlushReason>();
});
client.on('status', (s) => expectTypeOf(s).toEqualTypeOf<SyncStatus>());

// A plain string is not an EventId.
expectTypeOf<string>().not.toMatchTypeOf<EventId>();
// Event data must be JSON.
// @ts-expect-error functions are not JSON
void client.captureEvent('x', { f: () => 1 });

expectTypeOf(createSyncClient).returns.toEqualTypeOf<SyncClient>();
expectTypeOf(createNodeClient).returns.toEqualTypeOf<SyncClient>();
expectTypeOf(createTelemetry).returns.toEqualTypeOf<Telemetry>();
expectTypeOf<IsAny<Awaited<ReturnType<typeof createFileOutboxStorage>>>>().toEqualTypeOf<false>();

// The guide's service facade: the guide's names, typed payloads.
declare const guideTelemetry: TelemetryService;
declare const guideSync: SyncService;
expectTypeOf(TELEMETRY_CONFIG).toEqualTypeOf<TelemetryConfig>();
expectTypeOf(guideTelemetry.captureEvent('interview_started', { interviewType: 'mock', duration: 30 })).toEqualTypeOf<Promise<EventId>>();
guideTelemetry.on('sync:complete', (result) => {
  expectTypeOf(result.successCount).toEqualTypeOf<number>();
  expectTypeOf(result.reason).toEqualTypeOf<import('../src/index.js').FlushReason>();
});
expectTypeOf(guideSync.getStatus()).toEqualTypeOf<ServiceSyncStatus>();
expectTypeOf<ServiceSyncStatus['syncedCount']>().toEqualTypeOf<number>();
expectTypeOf<IsAny<Parameters<TelemetryService['on']>[1]>>().toEqualTypeOf<false>();
