import { batchItemSchema, eventItemSchema, eventDataSchema, eventMetadataSchema, inspectJson, jsonByteLength } from '@prepmate/crdt-model';
import { validateItem } from '../src/telemetry/validate.js';
import { toEventRecord } from '../src/telemetry/records.js';
const items = Array.from({ length: 40000 }, (_, i) => JSON.parse(JSON.stringify({ itemType: 'event', itemData: { eventId: `e${i}`, eventType: 'question_answered', eventData: { questionId: 'q1', score: 50, durationMs: 1000, correct: true }, metadata: { clientTimestamp: new Date().toISOString(), userAgent: 'bench' } } })));
const t = (name: string, fn: () => void) => { const s = performance.now(); fn(); console.log(name, (performance.now() - s).toFixed(0), 'ms'); };
for (let r = 0; r < 2; r++) {
t('validateItem', () => { for (const i of items) validateItem(i); });
t('batchItemSchema', () => { for (const i of items) batchItemSchema.safeParse(i); });
t('eventItemSchema', () => { for (const i of items) eventItemSchema.safeParse(i.itemData); });
t('eventData', () => { for (const i of items) eventDataSchema.safeParse(i.itemData.eventData); });
t('metadata', () => { for (const i of items) eventMetadataSchema.safeParse(i.itemData.metadata); });
t('inspectJson', () => { for (const i of items) inspectJson(i.itemData.eventData, 32); });
t('jsonByteLength', () => { for (const i of items) jsonByteLength(i.itemData.eventData); });
const ctx = { userId: 'u', receivedAt: new Date(), ipAddress: '1.2.3.0', userAgent: null, batchId: 'b', sentAt: null };
t('toEventRecord', () => { for (const i of items) toEventRecord(i.itemData, ctx); });
}
