import { afterEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { createTurn, type Turn } from '../../src/docs/turn.js';
import { LiveDocument } from '../../src/docs/live-document.js';
import { asSyncOrigin, type Peer } from '../../src/docs/origins.js';
import { createLocalFanout } from '../../src/fanout/ports.js';
import { readClientMessage } from '../../src/protocol/wire.js';
import { silentLogger } from '../helpers/sync.js';

/** A peer that records what it is sent; the turn never touches sockets. */
function recordingPeer(author: string): Peer & { readonly received: Uint8Array[] } {
  const received: Uint8Array[] = [];
  return { kind: 'peer', author, awarenessIds: new Set(), wantsAck: false, received, send: (frame) => void received.push(frame), close() {} };
}

/** The Yjs updates in `frames`, applied to a fresh document. */
function replay(frames: readonly Uint8Array[]): Y.Doc {
  const doc = new Y.Doc();
  for (const frame of frames) {
    const message = readClientMessage(frame);
    if (message.type === 'sync-update') Y.applyUpdate(doc, message.update);
  }
  return doc;
}

/** An update that sets `key` in map `m`, as a client would send it. */
function edit(client: Y.Doc, key: string, value: number): Uint8Array {
  const before = Y.encodeStateVector(client);
  client.getMap('m').set(key, value);
  return Y.encodeStateAsUpdate(client, before);
}

describe('fan-out flush interval (the turn)', () => {
  afterEach(() => void vi.useRealTimers());

  function setup(minIntervalMs: number): { turn: Turn; live: LiveDocument; writer: ReturnType<typeof recordingPeer>; reader: ReturnType<typeof recordingPeer>; clock: { now: number } } {
    const clock = { now: 1_000 };
    const turn = createTurn({ fanout: createLocalFanout(), logger: silentLogger, onPeerApplied() {}, minIntervalMs, now: () => clock.now });
    const live = new LiveDocument('interval', new Y.Doc());
    live.doc.on('update', (update: Uint8Array, origin: unknown) => turn.recordUpdate(live, update, asSyncOrigin(origin)));
    const writer = recordingPeer('writer');
    const reader = recordingPeer('reader');
    live.addPeer(writer);
    live.addPeer(reader);
    return { turn, live, writer, reader, clock };
  }

  it('when edits stream in, then those after two close flushes wait for the rest of the interval and each recipient gets them in one message, and so on while they keep coming', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate'] });
    const { turn, live, writer, reader, clock } = setup(5);
    const client = new Y.Doc();
    turn.queuePeerUpdate(live, writer, edit(client, 'a', 1));
    vi.advanceTimersToNextTimer(); // the first change after a quiet spell: the next turn
    expect(reader.received).toHaveLength(1);
    // The second, 1 ms later: not held back either, but now flushes come closer than the interval.
    clock.now += 1;
    turn.queuePeerUpdate(live, writer, edit(client, 'b', 2));
    vi.advanceTimersByTime(0);
    expect(reader.received).toHaveLength(2);

    // Three more edits in three later event-loop turns, all within 5 ms of that flush.
    for (const [key, value] of [['c', 3], ['d', 4], ['e', 5]] as const) {
      clock.now += 1;
      turn.queuePeerUpdate(live, writer, edit(client, key, value));
      vi.advanceTimersByTime(0);
    }
    expect(reader.received).toHaveLength(2);
    expect(live.doc.getMap('m').get('e')).toBeUndefined();
    clock.now += 2;
    vi.advanceTimersByTime(5);
    expect(reader.received).toHaveLength(3);

    // The stream goes on: an edit right after that held flush waits as well.
    clock.now += 1;
    turn.queuePeerUpdate(live, writer, edit(client, 'f', 6));
    vi.advanceTimersByTime(0);
    expect(reader.received).toHaveLength(3);
    clock.now += 4;
    vi.advanceTimersByTime(5);
    expect(reader.received).toHaveLength(4);
    expect(replay(reader.received).getMap('m').toJSON()).toEqual({ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 });
    // The writer is never sent its own changes.
    expect(writer.received).toHaveLength(0);
  });

  it('when two edits come close together after a quiet spell, then neither waits', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate'] });
    const { turn, live, writer, reader, clock } = setup(5);
    const client = new Y.Doc();
    for (let round = 0; round < 3; round++) {
      clock.now += 50;
      turn.queuePeerUpdate(live, writer, edit(client, `x${round}`, round));
      vi.advanceTimersByTime(0);
      clock.now += 1;
      turn.queuePeerUpdate(live, writer, edit(client, `y${round}`, round));
      vi.advanceTimersByTime(0);
      expect(reader.received).toHaveLength(2 * (round + 1));
    }
  });

  it('when an edit arrives longer than the interval after the last flush, then it goes out in the next event-loop turn', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate'] });
    const { turn, live, writer, reader, clock } = setup(5);
    const client = new Y.Doc();
    turn.queuePeerUpdate(live, writer, edit(client, 'a', 1));
    vi.advanceTimersToNextTimer();
    clock.now += 20;
    turn.queuePeerUpdate(live, writer, edit(client, 'b', 2));
    // One immediate, no timer: nothing but the next turn is needed.
    vi.runAllTicks();
    vi.advanceTimersByTime(0);
    expect(reader.received).toHaveLength(2);
    expect(replay(reader.received).getMap('m').toJSON()).toEqual({ a: 1, b: 2 });
  });

  it('when the interval is 0, then every event-loop turn is flushed as it ends', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate'] });
    const { turn, live, writer, reader } = setup(0);
    const client = new Y.Doc();
    for (const [key, value] of [['a', 1], ['b', 2], ['c', 3]] as const) {
      turn.queuePeerUpdate(live, writer, edit(client, key, value));
      vi.advanceTimersByTime(0);
    }
    expect(reader.received).toHaveLength(3);
  });
});
