/**
 * The compaction job (scheduled by jobs/scheduler.ts): folds update logs into snapshots,
 * `SYNC_BATCH_SIZE` documents a run, each under a lease in the shared store so two instances never
 * compact one document at once, and writes one batch log (kind `snapshot`) per run.
 */
import type * as Y from 'yjs';
import type { Logger } from '../logger.js';
import type { Store } from '../storage/ports.js';
import { compactDocument } from './compaction.js';

export interface SnapshotJobDeps {
  readonly store: Store;
  readonly logger: Logger;
  readonly config: { readonly SYNC_BATCH_SIZE: number };
  /** Lease owner: unique per process. */
  readonly instanceId: string;
  /** The in-memory document, when loaded here (it may hold updates another instance has not logged). */
  readonly loadedDocument?: (docName: string) => Y.Doc | undefined;
  /** A snapshot of `bytes` was written for `docName` (the loaded document's stored size is reset to it). */
  readonly compacted?: (docName: string, bytes: number) => void;
  readonly metrics?: {
    readonly snapshotDuration: { observe(seconds: number): void };
    readonly storeErrors: { inc(labels: { operation: string }): void };
  };
  /** Lease lifetime, ms; longer than compacting one document can take. Default 120 000. */
  readonly leaseTtlMs?: number;
}

export interface SnapshotRunResult {
  readonly documents: number;
  readonly compacted: number;
  readonly skippedLeased: number;
  readonly failed: number;
  readonly entries: number;
}

/** One run. Never throws for a single document's failure; it is counted in the batch log. */
export async function runSnapshots(deps: SnapshotJobDeps): Promise<SnapshotRunResult> {
  const { store, logger, config, instanceId } = deps;
  const started = new Date();
  const t0 = performance.now();
  let names: string[] = [];
  let compacted = 0;
  let skippedLeased = 0;
  let failed = 0;
  let entries = 0;
  try {
    names = await store.documents.listDocumentsWithLog(config.SYNC_BATCH_SIZE);
  } catch (error) {
    deps.metrics?.storeErrors.inc({ operation: 'compact' });
    logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'snapshots: listing documents failed');
    failed = 1;
  }
  for (const docName of names) {
    const key = `snapshot:${docName}`;
    let leased = false;
    try {
      leased = await store.leases.tryAcquire(key, instanceId, deps.leaseTtlMs ?? 120_000);
      if (!leased) {
        skippedLeased += 1;
        continue;
      }
      const result = await compactDocument(store.documents, docName, deps.loadedDocument?.(docName));
      entries += result.entries;
      if (result.snapshotBytes !== null) deps.compacted?.(docName, result.snapshotBytes);
      compacted += 1;
    } catch (error) {
      failed += 1;
      deps.metrics?.storeErrors.inc({ operation: 'compact' });
      logger.warn({ err: error instanceof Error ? error.message : String(error), docName }, 'snapshots: compacting a document failed');
    } finally {
      if (leased) await store.leases.release(key, instanceId).catch(() => undefined);
    }
  }
  const ended = new Date();
  deps.metrics?.snapshotDuration.observe((performance.now() - t0) / 1000);
  const result = { documents: names.length, compacted, skippedLeased, failed, entries };
  try {
    await store.batchLogs.insert({
      batchId: `snapshot_${started.getTime().toString(36)}_${instanceId}`,
      userId: 'system',
      itemCount: names.length,
      successCount: compacted,
      failureCount: failed,
      conflictCount: skippedLeased,
      duplicateCount: 0,
      startTime: started,
      endTime: ended,
      duration: ended.getTime() - started.getTime(),
      status: failed === 0 ? 'completed' : compacted > 0 ? 'partial' : 'failed',
      kind: 'snapshot',
    });
  } catch (error) {
    logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'snapshots: writing the batch log failed');
  }
  if (names.length > 0) logger.info(result, 'snapshots: run finished');
  return result;
}
