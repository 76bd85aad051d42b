import type * as Y from 'yjs';
import { LearnerDocument, assessmentSchema, canonicalJson, progressSchema, type Assessment, type Origin } from '@prepmate/crdt-model';
import type { UserId } from '../ids.js';
import type { SyncQueueItem } from '../storage/ports.js';
import type { DocumentAuthor, LearnerDocuments } from './ports.js';
import type { ConflictStrategy } from './types.js';

/** How a merged item ended up in the document. */
export interface MergeOutcome {
  readonly id: string;
  readonly ok: boolean;
  /** Set when the item lost to a value already in the document (kept in `syncQueues.conflictResolution`). */
  readonly conflict: Record<string, unknown> | null;
  /** Why it failed; `permanent` failures (invalid stored data) are never retried. */
  readonly error?: { readonly message: string; readonly permanent: boolean };
}

/**
 * Only used when the port runs `fn` outside a transaction of its own; inside one, Yjs keeps the
 * outer transaction's origin (the document service's).
 */
const SERVER_ORIGIN: Origin = Object.freeze({ kind: 'server' });

type Applied = { conflict: Record<string, unknown> | null };

/**
 * An assessment is an immutable fact: the first version of an id wins. A different payload
 * under a known id is a conflict, answered by keeping the stored fact (replicas that already
 * have it must not see it change).
 */
function applyAssessment(learner: LearnerDocument, data: Record<string, unknown>): Applied {
  const assessment: Assessment = assessmentSchema.parse(data);
  if (learner.recordAssessment(assessment, SERVER_ORIGIN)) return { conflict: null };
  const existing = learner.getAssessment(assessment.assessmentId);
  if (!existing || canonicalJson(existing) === canonicalJson(assessment)) return { conflict: null };
  return { conflict: { strategy: 'first-write-wins', kept: 'document', reason: 'an assessment with this id already exists with other values' } };
}

/**
 * `last-write-wins`: progress fields are decided by `updatedAt`: a patch older than the topic's
 * stored `updatedAt` (an offline device catching up late) does not overwrite newer values. A
 * patch without `updatedAt` is applied as the newest. `client-priority`: every patch is applied
 * as the newest (deployments where the REST client is the authority on its learner's progress).
 */
function applyProgress(learner: LearnerDocument, data: Record<string, unknown>, strategy: ConflictStrategy): Applied {
  const { topicId, ...patch } = progressSchema.parse(data);
  const current = learner.getTopic(topicId);
  if (strategy === 'last-write-wins' && patch.updatedAt && current?.updatedAt && Date.parse(current.updatedAt) > Date.parse(patch.updatedAt)) {
    return {
      conflict: { strategy: 'last-write-wins', kept: 'document', documentUpdatedAt: current.updatedAt, itemUpdatedAt: patch.updatedAt },
    };
  }
  learner.updateTopic(topicId, patch, SERVER_ORIGIN);
  return { conflict: null };
}

/**
 * Merges queue items of one learner into their document in one transaction (one update, one
 * log entry). Each item is applied in its own try so that one bad item cannot block the rest;
 * when the document itself cannot be written every item fails and stays queued for a retry.
 * Applying an item twice changes nothing, so a retry after an unclear failure is safe.
 */
export async function mergeQueueItems(
  documents: LearnerDocuments,
  userId: UserId,
  author: DocumentAuthor,
  items: readonly SyncQueueItem[],
  strategy: ConflictStrategy = 'last-write-wins',
): Promise<MergeOutcome[]> {
  const outcomes = new Map<string, MergeOutcome>();
  try {
    await documents.apply(userId, author, (doc: Y.Doc) => {
      outcomes.clear();
      const learner = new LearnerDocument(doc);
      learner.ensureSchema();
      for (const item of items) {
        try {
          const applied = item.itemType === 'assessment' ? applyAssessment(learner, item.itemData) : item.itemType === 'progress' ? applyProgress(learner, item.itemData, strategy) : { conflict: null };
          outcomes.set(item.id, { id: item.id, ok: true, conflict: applied.conflict });
        } catch (error) {
          outcomes.set(item.id, { id: item.id, ok: false, conflict: null, error: { message: messageOf(error), permanent: true } });
        }
      }
    });
  } catch (error) {
    const message = messageOf(error);
    return items.map((item) => ({ id: item.id, ok: false, conflict: null, error: { message, permanent: false } }));
  }
  return items.map((item) => outcomes.get(item.id) ?? { id: item.id, ok: false, conflict: null, error: { message: 'not applied', permanent: false } });
}

/** Outcomes by kind, for the merge metrics. */
export function tallyOutcomes(outcomes: readonly MergeOutcome[]): { merged: number; conflict: number; failed: number } {
  const tally = { merged: 0, conflict: 0, failed: 0 };
  for (const o of outcomes) {
    if (!o.ok) tally.failed += 1;
    else if (o.conflict) tally.conflict += 1;
    else tally.merged += 1;
  }
  return tally;
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}
