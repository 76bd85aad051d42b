/**
 * `@prepmate/crdt-model/automerge`: the learner model on Automerge, for comparison with the
 * Yjs engine (the one the server and the SDK use). Same {@link LearnerReplica} interface.
 */
import { createAutomergeEngine } from './document.js';

export {
  AutomergeLearnerDocument,
  automergeGenesis,
  createAutomergeEngine,
  type AutomergeLearnerDocumentOptions,
  type AutomergeMigrationTarget,
  type AutomergeLearnerShape,
} from './document.js';

/** The Automerge engine. */
export const automergeEngine = createAutomergeEngine();
