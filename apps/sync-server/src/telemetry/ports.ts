import type * as Y from 'yjs';
import type { LearnerDocumentJSON } from '@prepmate/crdt-model';
import type { UserId } from '../ids.js';

/**
 * The learner document as the REST API shows it (`GET /api/progress`, docs/api.md):
 * plain JSON of the Y.Doc, each topic with its derived `mastery`.
 */
export interface LearnerJson extends LearnerDocumentJSON {
  readonly userId: UserId;
}

/**
 * Who changed a document through this module: the learner's userId (REST ingestion on their behalf)
 * or `service:<job>` for a server job (`service:sync-queue`, `service:insights`). Becomes the author
 * of the update-log entry.
 */
export type DocumentAuthor = string;

/**
 * What the telemetry use-cases need from the sync server's document service. Changes go
 * through the live document so that connected devices see them at once and the update log
 * records them; the REST side never writes Yjs state to the store itself.
 */
export interface LearnerDocuments {
  /** The learner document `<userId>` as JSON (an empty document when it does not exist yet). */
  read(userId: UserId): Promise<LearnerJson>;
  /**
   * Runs `fn` on the learner document in one transaction and resolves once the resulting
   * update is durable (in the update log). Rejects when the document cannot be loaded or the
   * update cannot be persisted; the caller then retries through the sync queue.
   */
  apply(userId: UserId, author: DocumentAuthor, fn: (doc: Y.Doc) => void): Promise<void>;
  /**
   * True when about `bytes` more would take the learner document past its stored size quota
   * (`SYNC_MAX_DOCUMENT_BYTES`): items that would change it are refused with `QUOTA_EXCEEDED`.
   * Absent: no quota.
   */
  wouldExceed?(userId: UserId, bytes: number): Promise<boolean>;
  /**
   * Erases every document of the learner (`<userId>`, `<userId>/*`), stored or only loaded: its
   * sockets are closed, it is dropped from memory without being persisted, its queued updates are
   * forgotten, it is deleted from the store and other instances are told. Idempotent. Resolves
   * with how many documents the store held.
   */
  eraseAll(userId: UserId): Promise<number>;
}
