import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { connectClient, until, useSqliteSyncServer } from '../../helpers/sync.js';
import { attackerSocket, awarenessFrame, bigUpdate, closedWith, MiB, rssMiB, sendFrame, stopReading, unknownStepOne, updateFrame, victimRoundTrip } from './sync-attacker.js';

const DOC_BYTES = 4 * MiB;
const STEP_ONES = 100;
const CAP = 16 * MiB;

/** Uploads a ~4 MiB document (a heavy learner's year) and waits until a fresh client holds it. */
async function seedBigDocument(fixture: ReturnType<typeof useSqliteSyncServer>, docName: string): Promise<void> {
  const { server } = fixture;
  const owner = docName.split('/')[0] ?? '';
  const uploader = await attackerSocket(server, owner, docName);
  await sendFrame(uploader, updateFrame(bigUpdate(DOC_BYTES)));
  const token = await server.tokens.sign(owner);
  const check = connectClient(server.syncUrl, docName, token);
  try {
    await check.whenSynced(30_000);
    await until(() => check.doc.getText('t').length === DOC_BYTES, 'big document stored', 30_000);
  } finally {
    check.destroy();
    uploader.close();
  }
}

/**
 * A socket that stops reading and asks for the whole document again and again must not make the
 * server queue the document once per request; memory stays bounded and other learners are served.
 */
describe('hostile learner: a slow reader cannot make the server queue a document per request', () => {
  const fixture = useSqliteSyncServer({ config: { SYNC_MAX_MESSAGE_BYTES: 12 * MiB, SYNC_MAX_BUFFERED_BYTES: CAP, SYNC_MAX_AWARENESS_BYTES: 2 * MiB } });

  it('when a socket that does not read sends 100 step-1 frames on a 4 MiB document, then at most one answer is queued and another learner is still served', async () => {
    const { server } = fixture;
    await seedBigDocument(fixture, 'mallory/big');
    const attacker = await attackerSocket(server, 'mallory', 'mallory/big');
    stopReading(attacker);
    const before = rssMiB();
    for (let i = 0; i < STEP_ONES; i++) attacker.send(unknownStepOne(1_000_000 + i));
    // A marker after the step 1s: once another socket sees it, the server has handled them all.
    const marker = new Y.Doc();
    marker.getMap('m').set('after-step-ones', true);
    attacker.send(updateFrame(Y.encodeStateAsUpdate(marker)));
    const observer = connectClient(server.syncUrl, 'mallory/big', await server.tokens.sign('mallory'));
    try {
      await until(() => observer.map.get('after-step-ones') === true, 'the attacker frames handled', 60_000);
      await victimRoundTrip(server, 'alice', 'during-slow-reader');
      // Before the change each step 1 queued the whole document: 100 × 4 MiB ≈ 400 MiB.
      const grown = rssMiB() - before;
      expect(grown, `RSS grew ${grown.toFixed(0)} MiB`).toBeLessThan(150);
      const status = server.service.status();
      // The server's own accounting: never more than the cap per socket.
      expect(status.sendQueueBytes).toBeLessThanOrEqual(CAP * status.connections);
    } finally {
      observer.destroy();
      attacker.terminate();
    }
  }, 120_000);

  it('when more than SYNC_MAX_BUFFERED_BYTES would be queued for a socket that does not read, then it is closed with 4503 and nothing stored is lost', async () => {
    const { server } = fixture;
    const writer = await attackerSocket(server, 'mallory', 'mallory/flooded');
    const kept = new Y.Doc();
    kept.getMap('m').set('kept', 'yes');
    await sendFrame(writer, updateFrame(Y.encodeStateAsUpdate(kept)));
    const reader = await attackerSocket(server, 'mallory', 'mallory/flooded');
    stopReading(reader);
    // Each 1 MiB awareness state is broadcast to the reader that does not read. Loopback kernel
    // buffers take tens of MiB first (tcp_rmem up to 32 MiB), then the server's queue passes the cap.
    for (let clock = 1; clock <= 120 && (await closedWith(server, 4503)) === 0; clock++) await sendFrame(writer, awarenessFrame(424242, clock, MiB));
    await until(async () => (await closedWith(server, 4503)) >= 1, `the slow reader closed with 4503 (queued ${server.service.status().sendQueueBytes})`, 30_000);
    expect(server.service.status().sendQueueBytes).toBeLessThanOrEqual(CAP * server.service.status().connections);
    await victimRoundTrip(server, 'alice', 'after-flood');
    writer.close();
    const check = connectClient(server.syncUrl, 'mallory/flooded', await server.tokens.sign('mallory'));
    try {
      await check.whenSynced(30_000);
      expect(check.map.get('kept')).toBe('yes');
    } finally {
      check.destroy();
      reader.terminate();
    }
  }, 120_000);
});
