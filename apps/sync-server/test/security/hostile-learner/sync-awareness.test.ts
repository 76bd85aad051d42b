import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { connectClient, until, useSqliteSyncServer } from '../../helpers/sync.js';
import { attackerSocket, awarenessFrame, closedWith, MiB, rssMiB, sendFrame, victimRoundTrip } from './sync-attacker.js';

/** Resolves with the close code the socket receives. */
const closeCode = (ws: WebSocket): Promise<number> => new Promise((resolve) => ws.once('close', (code) => resolve(code)));

/** A many-states awareness frame: `states` client ids of `bytesEach` bytes each. */
async function manyStates(states: number, bytesEach: number): Promise<Uint8Array> {
  const encoding = await import('lib0/encoding');
  const { writeAwareness } = await import('../../../src/protocol/wire.js');
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, states);
  const state = JSON.stringify({ pad: 'y'.repeat(bytesEach) });
  for (let id = 1; id <= states; id++) {
    encoding.writeVarUint(encoder, 5_000_000 + id);
    encoding.writeVarUint(encoder, 1);
    encoding.writeVarString(encoder, state);
  }
  return writeAwareness(encoding.toUint8Array(encoder));
}

/** Awareness is presence, a few bytes per tab: a learner cannot grow it without bound or take over another socket's state. */
describe('hostile learner: awareness is bounded per socket and owned by the socket that introduced it', () => {
  const fixture = useSqliteSyncServer({ config: { SYNC_MAX_MESSAGE_BYTES: 12 * MiB } });

  it('when awareness frames of 8 MiB with 400 000 client ids arrive, then the socket is closed with 4413 and memory does not follow', async () => {
    const { server } = fixture;
    const before = rssMiB();
    const frame = await manyStates(400_000, 8);
    const closed: Array<Promise<number>> = [];
    for (let i = 0; i < 4; i++) {
      const ws = await attackerSocket(server, 'mallory', 'mallory/presence');
      closed.push(closeCode(ws));
      await sendFrame(ws, frame);
    }
    await victimRoundTrip(server, 'alice', 'during-awareness-flood');
    expect(await Promise.all(closed)).toEqual([4413, 4413, 4413, 4413]);
    expect(await closedWith(server, 4413)).toBeGreaterThanOrEqual(4);
    const observer = connectClient(server.syncUrl, 'mallory/presence', await server.tokens.sign('mallory'));
    try {
      await observer.whenSynced();
      expect(observer.provider.awareness.getStates().size).toBeLessThanOrEqual(1);
    } finally {
      observer.destroy();
    }
    // Before the change four such frames held hundreds of MiB (states, then the removal broadcast).
    const grown = rssMiB() - before;
    expect(grown, `RSS grew ${grown.toFixed(0)} MiB`).toBeLessThan(120);
  }, 120_000);

  it('when a socket sends more states than SYNC_MAX_AWARENESS_STATES, then it is closed with 4413', async () => {
    const { server } = fixture;
    const ws = await attackerSocket(server, 'mallory', 'mallory/presence-many');
    const code = closeCode(ws);
    await sendFrame(ws, await manyStates(17, 8));
    expect(await code).toBe(4413);
  });

  it("when a socket writes a client id another socket introduced, then that entry is ignored and the owner's state stays", async () => {
    const { server } = fixture;
    const token = await server.tokens.sign('mallory');
    const owner = connectClient(server.syncUrl, 'mallory/shared', token);
    const observer = connectClient(server.syncUrl, 'mallory/shared', token);
    try {
      await Promise.all([owner.whenSynced(), observer.whenSynced()]);
      owner.provider.awareness.setLocalStateField('user', 'owner');
      const ownerId = owner.doc.clientID;
      await until(() => (observer.provider.awareness.getStates().get(ownerId) as { user?: string } | undefined)?.user === 'owner', 'owner state seen');
      const intruder = await attackerSocket(server, 'mallory', 'mallory/shared');
      // A higher clock than the owner's: applied, it would replace the owner's state everywhere.
      await sendFrame(intruder, awarenessFrame(ownerId, 1_000, 16));
      await sendFrame(intruder, awarenessFrame(777_777, 1, 16));
      await until(() => observer.provider.awareness.getStates().has(777_777), "the intruder's own state arrives (frames before it were handled)");
      const seen = observer.provider.awareness.getStates().get(ownerId) as { user?: string; pad?: string } | undefined;
      expect(seen?.user).toBe('owner');
      expect(seen?.pad).toBeUndefined();
      intruder.close();
    } finally {
      owner.destroy();
      observer.destroy();
    }
  });
});
