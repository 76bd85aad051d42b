import { describe, it } from 'vitest';
import { automergeEngine } from '../src/automerge/index.js';
import { checkConvergence } from './convergence-suite.js';

describe('convergence (automerge)', () => {
  it('when replicas edit and exchange updates in any order, then they converge (1 000 runs, seed 2)', () => {
    checkConvergence(automergeEngine, 1_000, 2);
  }, 60_000);
});
