import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { skipEncodingOfLoads, type UpdateListener } from '../src/doc/quiet-load.js';

const LOAD = Symbol('load');

/** A year's worth of state stands in for what a device stored: one map entry is enough here. */
function storedState(): Uint8Array {
  const other = new Y.Doc();
  other.getMap('facts').set('a', 1);
  return Y.encodeStateAsUpdate(other);
}

describe('skipping the encoding of loaded state', () => {
  it('gives known listeners nothing for a load and everything after it', () => {
    const doc = new Y.Doc();
    const seen: unknown[] = [];
    const mine: UpdateListener = (_u, origin) => seen.push(origin);
    doc.on('update', mine);
    const stop = skipEncodingOfLoads(doc, LOAD, [mine]);
    Y.applyUpdate(doc, storedState(), LOAD);
    expect(doc.getMap('facts').get('a')).toBe(1);
    expect(seen).toEqual([]);
    doc.getMap('facts').set('b', 2);
    expect(seen).toEqual([null]);
    stop();
    Y.applyUpdate(doc, storedState(), LOAD); // stopped: delivered like any other update
    expect(seen).toEqual([null, LOAD]);
  });

  it('encodes loads as before when another listener may want them', () => {
    const doc = new Y.Doc();
    const mine: UpdateListener = () => undefined;
    const theirs: Uint8Array[] = [];
    doc.on('update', mine);
    doc.on('update', (u: Uint8Array) => theirs.push(u));
    skipEncodingOfLoads(doc, LOAD, [mine]);
    Y.applyUpdate(doc, storedState(), LOAD);
    expect(theirs).toHaveLength(1);
    const copy = new Y.Doc();
    Y.applyUpdate(copy, theirs[0]!);
    expect(copy.getMap('facts').get('a')).toBe(1);
  });

  it('delivers a change an observer makes while the load is applied', () => {
    const doc = new Y.Doc();
    const seen: unknown[] = [];
    const mine: UpdateListener = (_u, origin) => seen.push(origin);
    doc.on('update', mine);
    skipEncodingOfLoads(doc, LOAD, [mine]);
    const facts = doc.getMap('facts');
    facts.observe((_e, tr) => {
      if (tr.origin === LOAD) doc.transact(() => facts.set('derived', true), 'observer');
    });
    Y.applyUpdate(doc, storedState(), LOAD);
    expect(seen).toContain('observer');
    doc.getMap('facts').set('b', 2);
    expect(seen.at(-1)).toBe(null);
  });
});
