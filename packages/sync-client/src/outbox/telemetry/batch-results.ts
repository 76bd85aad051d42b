import type { EventId } from '../../ids.js';
import type { ItemResult, SendOutcome, WireItem } from '../transport.js';
import type { OutboxItem } from '../types.js';
import type { FlushResult } from './api.js';

/**
 * Per-item error codes that mean "try again", not "this item is bad". `QUOTA_EXCEEDED`: the
 * learner document is full; the item is kept (nothing the learner did is dropped) and sent later.
 */
const transientCodes: ReadonlySet<string> = new Set(['STORE_UNAVAILABLE', 'INTERNAL', 'RATE_LIMITED', 'QUOTA_EXCEEDED']);

/** JSON around each item in a request (`{"itemType":"event","itemData":…}` plus `sentAt`). */
export const WIRE_OVERHEAD_PER_ITEM = 128;
export const WIRE_OVERHEAD_PER_BATCH = 128;

/** What the server's answers to a batch decide: which items leave the outbox, and why. */
export interface SendResult {
  ok: EventId[];
  rejected: { item: OutboxItem; reason: 'rejected' | 'too-large'; error: string }[];
  stored: number;
  duplicates: number;
  merged: number;
  transient: number;
  failure?: Extract<SendOutcome, { kind: 'retry' | 'gone' }>;
}

export const emptySendResult = (): SendResult => ({ ok: [], rejected: [], stored: 0, duplicates: 0, merged: 0, transient: 0 });

/** The counts of a flush that sent nothing. */
export const emptyResult = (): Omit<FlushResult, 'remaining'> => ({ sent: 0, stored: 0, duplicates: 0, merged: 0, rejected: 0, retried: 0 });

export const wire = (items: readonly OutboxItem[]): WireItem[] => items.map((i) => ({ itemType: i.itemType, itemData: i.itemData }));

/**
 * Sorts the server's per-item results for `items` into `out`: stored, duplicate and merged are
 * done; a rejection is permanent unless its code is transient; an item without a result is
 * retried.
 */
export function applyResults(items: readonly OutboxItem[], results: readonly ItemResult[], out: SendResult): void {
  const byIndex = new Map<number, ItemResult>();
  for (const r of results) byIndex.set(r.index, r);
  items.forEach((item, index) => {
    const r = byIndex.get(index);
    if (!r) {
      out.transient++;
      return;
    }
    if (r.status === 'stored') out.stored++;
    else if (r.status === 'duplicate') out.duplicates++;
    else if (r.status === 'merged') out.merged++;
    if (r.status !== 'rejected') {
      out.ok.push(item.id);
      return;
    }
    const code = typeof r.error === 'object' ? r.error?.code : undefined;
    const message = typeof r.error === 'string' ? r.error : `${r.error?.code ?? 'REJECTED'}: ${r.error?.message ?? ''}`;
    if (code && transientCodes.has(code)) out.transient++;
    else out.rejected.push({ item, reason: 'rejected', error: message });
  });
}
