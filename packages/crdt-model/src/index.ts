/**
 * `@prepmate/crdt-model`: the learner document (Yjs), its derived values and the zod schemas
 * shared by the sync server and the client SDK. The Automerge implementation of the same model
 * lives in `@prepmate/crdt-model/automerge` so that Yjs-only consumers never load its WASM.
 */
export * from './limits.js';
export * from './json.js';
export * from './schemas.js';
export * from './origin.js';
export * from './derive.js';
export * from './settings.js';
export * from './plan.js';
export { cardPriority, reasonFor, type CardBase } from './plan-rank.js';
export * from './coaching.js';
export * from './migrations.js';
export * from './model.js';
export { applyCorrections, effectiveTopicStatus, type CorrectionValues, type ResolvedTopic } from './records.js';
export { HybridClock, compareStamps, decodeStamp, encodeStamp, isNodeId, type Stamp } from './hlc.js';
export { topicIdForName, topicNameKey } from './topic-names.js';
export { LearnerDocument, yjsEngine, type LearnerDocumentOptions } from './document.js';
export { topicClientId, RESERVED_CLIENT_BASE, GENESIS_CLIENT_ID } from './deterministic.js';
