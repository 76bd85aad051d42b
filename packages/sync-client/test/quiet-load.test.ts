import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { skipEncodingOfLoads, skipEncodingOfReceived, type ReceivedUpdate, type UpdateListener } from '../src/doc/quiet-load.js';

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

describe('storing a received sync step 2 as received', () => {
  const PROVIDER = Symbol('provider');

  /** The document a provider would apply `received` to, with a store listener and an ignoring one. */
  function setUp(
    stepTwo: () => Uint8Array | null,
    received: () => ReceivedUpdate | null = () => {
      const update = stepTwo();
      return update ? { update, stepTwo: true } : null;
    },
    maxHeldBytes?: number,
  ) {
    const doc = new Y.Doc();
    const encoded: unknown[] = [];
    const stored: Uint8Array[] = [];
    const storeListener: UpdateListener = (u, origin) => {
      encoded.push(origin);
      stored.push(u);
    };
    const ignoring: UpdateListener = () => undefined;
    doc.on('update', storeListener);
    doc.on('update', ignoring);
    const stop = skipEncodingOfReceived(doc, PROVIDER, [storeListener, ignoring], received, (u) => stored.push(u), maxHeldBytes);
    return { doc, encoded, stored, stop };
  }

  it('hands the store the received bytes, unencoded, and encodes later changes as usual', () => {
    const payload = storedState();
    const { doc, encoded, stored } = setUp(() => payload);
    Y.applyUpdate(doc, payload, PROVIDER);
    expect(doc.getMap('facts').get('a')).toBe(1);
    expect(encoded).toEqual([]);
    expect(stored).toEqual([payload]);
    const reloaded = new Y.Doc();
    for (const u of stored) Y.applyUpdate(reloaded, u);
    expect(reloaded.getMap('facts').toJSON()).toEqual({ a: 1 });
    doc.getMap('facts').set('b', 2);
    expect(encoded).toEqual([null]);
  });

  it('encodes as before when nothing is being received, or the origin is not the provider', () => {
    let payload: Uint8Array | null = null;
    const { doc, encoded } = setUp(() => payload);
    Y.applyUpdate(doc, storedState(), PROVIDER);
    expect(encoded).toEqual([PROVIDER]);
    payload = storedState();
    const other = new Y.Doc();
    other.getMap('facts').set('c', 3);
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(other), 'someone else');
    expect(encoded).toEqual([PROVIDER, 'someone else']);
  });

  it('encodes as before, and stores nothing extra, when another listener may want the update or an observer writes meanwhile', () => {
    const payload = storedState();
    const withListener = setUp(() => payload);
    const theirs: Uint8Array[] = [];
    withListener.doc.on('update', (u: Uint8Array) => theirs.push(u));
    Y.applyUpdate(withListener.doc, payload, PROVIDER);
    expect(theirs).toHaveLength(1);
    expect(withListener.encoded).toEqual([PROVIDER]);
    expect(withListener.stored).toHaveLength(1);

    const withObserver = setUp(() => payload);
    const facts = withObserver.doc.getMap('facts');
    facts.observe((_e, tr) => {
      if (tr.origin === PROVIDER) withObserver.doc.transact(() => facts.set('derived', true), 'observer');
    });
    Y.applyUpdate(withObserver.doc, payload, PROVIDER);
    expect(withObserver.encoded).toEqual([PROVIDER, 'observer']);
    expect(withObserver.stored).toHaveLength(2);
    expect(withObserver.stored).not.toContain(payload);
  });

  /** A server's answer in two parts: the state of a long-lived replica, and a change it made later. */
  function stateAndLaterChange(): { state: Uint8Array; later: Uint8Array } {
    const server = new Y.Doc();
    const facts = server.getMap('facts');
    facts.set('a', 1);
    facts.set('b', 1);
    const state = Y.encodeStateAsUpdate(server);
    const before = Y.encodeStateVector(server);
    facts.set('a', 2); // overwrites an entry of `state`: cannot integrate without it
    facts.set('c', 3);
    return { state, later: Y.encodeStateAsUpdate(server, before) };
  }

  /** The store holds one record, and it has the state and the later change. */
  function expectOneRecordOfAll(stored: readonly Uint8Array[]): void {
    expect(stored).toHaveLength(1);
    const reloaded = new Y.Doc();
    Y.applyUpdate(reloaded, stored[0]!);
    expect(reloaded.getMap('facts').toJSON()).toEqual({ a: 2, b: 1, c: 3 });
  }

  /** Receives and applies, as a step 2, a state unrelated to the others; returns its bytes. */
  function applyUnrelatedStepTwo(doc: Y.Doc, receive: (message: ReceivedUpdate) => void): Uint8Array {
    const next = new Y.Doc();
    next.getMap('other').set('x', 1);
    const step2 = Y.encodeStateAsUpdate(next);
    receive({ update: step2, stepTwo: true });
    Y.applyUpdate(doc, step2, PROVIDER);
    return step2;
  }

  it('when an update received before the step 2 waits for it, then the store gets that update with the step 2, and a reload has both', () => {
    const { state, later } = stateAndLaterChange();
    let message: ReceivedUpdate | null = null;
    const { doc, encoded, stored } = setUp(() => null, () => message);
    message = { update: later, stepTwo: false };
    Y.applyUpdate(doc, later, PROVIDER);
    message = null;
    expect(doc.store.pendingStructs).not.toBeNull();
    message = { update: state, stepTwo: true };
    Y.applyUpdate(doc, state, PROVIDER);
    message = null;
    expect(doc.getMap('facts').toJSON()).toEqual({ a: 2, b: 1, c: 3 });
    expect(encoded).toEqual([]); // nothing was integrated by the first, and the step 2 went unencoded
    const reloaded = new Y.Doc();
    for (const u of stored) Y.applyUpdate(reloaded, u);
    expect(reloaded.getMap('facts').toJSON()).toEqual({ a: 2, b: 1, c: 3 });
    expect(reloaded.store.pendingStructs).toBeNull();
  });

  it('when more than the limit is held back, then the held updates are let go and the step 2 is encoded, so a reload still has all of it', () => {
    const { state, later } = stateAndLaterChange();
    let message: ReceivedUpdate | null = null;
    const { doc, encoded, stored } = setUp(() => null, () => message, later.byteLength - 1);
    message = { update: later, stepTwo: false };
    Y.applyUpdate(doc, later, PROVIDER);
    expect(doc.store.pendingStructs).not.toBeNull();
    message = { update: state, stepTwo: true };
    Y.applyUpdate(doc, state, PROVIDER);
    message = null;
    expect(encoded).toEqual([PROVIDER]); // not skipped: its encoding holds the held parts too
    expectOneRecordOfAll(stored);
    // Nothing held back any more: the next step 2 is stored as received again.
    const step2 = applyUnrelatedStepTwo(doc, (m) => (message = m));
    expect(encoded).toEqual([PROVIDER]);
    expect(stored).toEqual([stored[0], step2]);
  });

  it('when the held update was integrated by an encoded transaction, then it is not stored again with a later step 2', () => {
    const { state, later } = stateAndLaterChange();
    let message: ReceivedUpdate | null = null;
    const { doc, stored } = setUp(() => null, () => message);
    message = { update: later, stepTwo: false };
    Y.applyUpdate(doc, later, PROVIDER);
    message = { update: state, stepTwo: false }; // as a plain update: encoded as usual
    Y.applyUpdate(doc, state, PROVIDER);
    expectOneRecordOfAll(stored);
    const step2 = applyUnrelatedStepTwo(doc, (m) => (message = m));
    expect(stored).toEqual([stored[0], step2]);
  });
});
