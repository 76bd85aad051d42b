import type * as Y from 'yjs';
import type { LearnerDocumentJSON } from '@prepmate/crdt-model';

/**
 * The learner document as the REST API shows it (`GET /api/progress`, docs/api.md):
 * plain JSON of the Y.Doc, each topic with its derived `mastery`.
 */
export interface LearnerJson extends LearnerDocumentJSON {
  readonly userId: string;
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
  read(userId: string): Promise<LearnerJson>;
  /**
   * Runs `fn` on the learner document in one transaction and resolves once the resulting
   * update is durable (in the update log). Rejects when the document cannot be loaded or the
   * update cannot be persisted; the caller then retries through the sync queue.
   */
  apply(userId: string, author: DocumentAuthor, fn: (doc: Y.Doc) => void): Promise<void>;
  /**
   * Erasure of the learner's documents: every document `<userId>` and `<userId>/*`, stored or
   * only loaded (updates not yet in the store), has its clients disconnected, is dropped from
   * memory without being persisted, and has its stored state deleted, each document once.
   * Idempotent: repeating it after a failure completes it.
   */
  eraseAll(userId: string): Promise<void>;
}
