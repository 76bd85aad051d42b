import { describe, it } from 'vitest';
import { yjsEngine } from '../src/index.js';
import { checkConvergence } from './convergence-suite.js';

describe('convergence (yjs)', () => {
  it('when replicas edit and exchange updates in any order, then they converge (1000 runs, seed 1)', () => {
    checkConvergence(yjsEngine, 1000, 1);
  }, 60_000);
});
