import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { AckTracker, isUpdateCarrying, readDurableAckBody } from '../src/doc/ack.js';
import { createIdGenerator, eventIdTime, parseEventId } from '../src/ids.js';

const frame = (type: number, sub?: number): Uint8Array => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, type);
  if (sub !== undefined) {
    encoding.writeVarUint(e, sub);
    encoding.writeVarUint8Array(e, new Uint8Array([0, 0]));
  }
  return encoding.toUint8Array(e);
};
const step1 = frame(0, 0);
const step2 = frame(0, 1);
const update = frame(0, 2);
const awareness = frame(1);
const ack = (messages: number, sv: Uint8Array = new Uint8Array([0])) => ({ messages, stateVector: sv });

describe('durable ack tracking', () => {
  it('reads [100, messages, stateVector] after the type byte', () => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 100);
    encoding.writeVarUint(e, 7);
    encoding.writeVarUint8Array(e, new Uint8Array([1, 2, 3]));
    const d = decoding.createDecoder(encoding.toUint8Array(e));
    expect(decoding.readVarUint(d)).toBe(100);
    expect(readDurableAckBody(d)).toEqual({ messages: 7, stateVector: new Uint8Array([1, 2, 3]) });
  });

  it('counts only sync step 2 and update frames', () => {
    expect([step1, step2, update, awareness, new Uint8Array([])].map(isUpdateCarrying)).toEqual([false, true, true, false, false]);
  });

  it('when changes are sent and acked in order, then unsaved falls as the acks arrive, not before', () => {
    const t = new AckTracker();
    const ws = {};
    t.localChange();
    t.sent(ws, update);
    t.localChange();
    t.sent(ws, awareness);
    t.sent(ws, update);
    expect(t.unsaved).toBe(2);
    expect(t.acked(ws, ack(1))).toBe(true);
    expect(t.unsaved).toBe(1);
    t.acked(ws, ack(2));
    expect(t.unsaved).toBe(0);
  });

  it('when a socket dies before its ack, then the new socket counts from zero and its step 2 covers everything', () => {
    const t = new AckTracker();
    const old = {};
    t.localChange();
    t.sent(old, update);
    t.localChange(); // made offline, never sent
    const fresh = {};
    t.sent(fresh, step2);
    expect(t.unsaved).toBe(2);
    // A late ack on the dead socket means nothing for the new one's counter, but is still true for its own frames.
    t.acked(fresh, ack(1));
    expect(t.unsaved).toBe(0);
  });

  it('when an ack is for a socket we know nothing about, then nothing changes', () => {
    const t = new AckTracker();
    t.localChange();
    expect(t.acked({}, ack(5))).toBe(false);
    expect(t.unsaved).toBe(1);
  });

  it('when state was restored from local storage, then it is unsaved until an ack state vector covers it', () => {
    const doc = new Y.Doc();
    doc.getMap('m').set('k', 1);
    const t = new AckTracker();
    t.restored(Y.encodeStateVector(doc));
    expect(t.unsaved).toBe(1);
    expect(t.acked({}, ack(0, Y.encodeStateVector(new Y.Doc())))).toBe(false);
    expect(t.unsaved).toBe(1);
    expect(t.acked({}, ack(0, Y.encodeStateVector(doc)))).toBe(true);
    expect(t.unsaved).toBe(0);
  });

  it('when the last page kept its count, then restored state counts as that many; zero with a covering ack counts as saved', () => {
    const doc = new Y.Doc();
    doc.getMap('m').set('k', 1);
    const sv = Y.encodeStateVector(doc);
    const kept = new AckTracker();
    kept.restored(sv, { unsaved: 3, acked: null });
    expect(kept.unsaved).toBe(3);
    kept.localChange();
    expect(kept.unsaved).toBe(4);
    expect(kept.acked({}, ack(0, sv))).toBe(true);
    expect(kept.unsaved).toBe(1);
    expect(kept.lastAckedStateVector).toEqual(sv);

    const saved = new AckTracker();
    saved.restored(sv, { unsaved: 0, acked: sv });
    expect(saved.unsaved).toBe(0);
    // An ack that does not cover the restored state proves nothing: still one change.
    const older = new AckTracker();
    older.restored(sv, { unsaved: 0, acked: Y.encodeStateVector(new Y.Doc()) });
    expect(older.unsaved).toBe(1);
  });
});

describe('UUIDv7 ids', () => {
  it('are valid v7, carry their millisecond, and increase strictly even within one millisecond or when the clock steps back', () => {
    let now = 1_700_000_000_000;
    const next = createIdGenerator(() => now);
    const ids = Array.from({ length: 5000 }, () => next());
    now -= 10_000;
    ids.push(next());
    for (const id of ids) expect(parseEventId(id)).toBe(id);
    expect(eventIdTime(ids[0]!)).toBe(1_700_000_000_000);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });
});
