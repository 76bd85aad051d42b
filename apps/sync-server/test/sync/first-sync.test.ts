import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import * as Y from 'yjs';
import { MAX_CHANGES_AFTER_BASE } from '../../src/docs/live-document.js';
import type { DocName } from '../../src/ids.js';
import { connectClient, rawSocket, until, useSqliteSyncServer, type TestClient } from '../helpers/sync.js';

/** A sync message as the server sent it: `[0, type, update]` (type 1: step 2, type 2: update). */
interface SyncMessage {
  readonly type: number;
  readonly update: Uint8Array;
}

/** A new device without y-websocket: sends an empty step 1 and collects sync messages up to the step 2. */
async function firstSync(syncUrl: string, docName: string, token: string, query = ''): Promise<SyncMessage[]> {
  const opened = await rawSocket(`${syncUrl}/${docName}?token=${token}${query}`);
  if (!('ws' in opened)) throw new Error(`refused: ${opened.status}`);
  const ws: WebSocket = opened.ws;
  const messages: SyncMessage[] = [];
  const done = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => {
      const decoder = decoding.createDecoder(new Uint8Array(data));
      if (decoding.readVarUint(decoder) !== 0) return; // awareness, acks
      const type = decoding.readVarUint(decoder);
      if (type === 0) return; // the server's own step 1
      messages.push({ type, update: decoding.readVarUint8Array(decoder) });
      if (type === 1) resolve();
    });
  });
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0);
  encoding.writeVarUint(encoder, 0);
  encoding.writeVarUint8Array(encoder, Y.encodeStateVector(new Y.Doc()));
  ws.send(encoding.toUint8Array(encoder));
  await done;
  ws.close();
  return messages;
}

const contentOf = (updates: readonly Uint8Array[]): unknown => {
  const doc = new Y.Doc();
  for (const u of updates) Y.applyUpdate(doc, u);
  return doc.getMap('m').toJSON();
};

describe('the first sync of a device that has nothing', () => {
  const fixture = useSqliteSyncServer();
  const clients: TestClient[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
  });

  async function writer(docName: string): Promise<TestClient> {
    const { server } = fixture;
    const c = connectClient(server.syncUrl, docName, await server.tokens.sign(docName));
    clients.push(c);
    await c.whenSynced();
    return c;
  }

  /** Closes the only client and waits until the server has unloaded the document. */
  async function unload(c: TestClient): Promise<void> {
    c.destroy();
    clients.length = 0;
    await until(() => fixture.server.service.status().loadedDocuments === 0, 'the document is unloaded');
  }

  /** A raw first sync of `docName` with a fresh token (and `query` appended to the URL). */
  async function firstSyncOf(docName: string, query = ''): Promise<SyncMessage[]> {
    return firstSync(fixture.server.syncUrl, docName, await fixture.server.tokens.sign(docName), query);
  }

  /** Writes `count` entries to map `m` in separate, stored parts (one log entry each at least). */
  async function writeInParts(c: TestClient, docName: string, parts: number, prefix: string): Promise<void> {
    for (let part = 0; part < parts; part++) {
      const before = (await fixture.store.documents.loadDocument(docName)).updates.length;
      c.map.set(`${prefix}${part}`, part);
      await until(async () => (await fixture.store.documents.loadDocument(docName)).updates.length > before, 'the part is stored');
    }
  }

  it('when the document is loaded from its stored log, then the device gets the later entries first and the first entry as stored as its step 2, and has everything', async () => {
    const docName = 'learner_first_sync_stored';
    const w = await writer(docName);
    await writeInParts(w, docName, 4, 'k');
    await unload(w);

    const stored = await fixture.store.documents.loadDocument(docName);
    expect(stored.snapshot).toBeNull();
    expect(stored.updates.length).toBeGreaterThanOrEqual(4);
    const messages = await firstSyncOf(docName);
    expect(messages.map((m) => m.type)).toEqual([2, 1]);
    expect(Buffer.from(messages[1]!.update).equals(Buffer.from(stored.updates[0]!.update))).toBe(true);
    expect(contentOf(messages.map((m) => m.update))).toEqual({ k0: 0, k1: 1, k2: 2, k3: 3 });
  });

  it('when an SDK that asks for acks but not for parts syncs first, then it gets the whole document as its step 2; one that asks for parts gets them', async () => {
    const docName = 'learner_first_sync_old_sdk';
    const w = await writer(docName);
    await writeInParts(w, docName, 3, 'k');
    await unload(w);

    const current = await firstSyncOf(docName, '&ack=1&parts=1');
    expect(current.map((m) => m.type)).toEqual([2, 1]);
    // An SDK build that stores a first sync's step 2 as the whole document must get all of it there.
    const older = await firstSyncOf(docName, '&ack=1');
    expect(older.map((m) => m.type)).toEqual([1]);
    expect(contentOf([older[0]!.update])).toEqual({ k0: 0, k1: 1, k2: 2 });
    // That encoding is now the base: every client gets it alone until the document changes.
    const stock = await firstSyncOf(docName);
    expect(stock.map((m) => m.type)).toEqual([1]);
    expect(Buffer.from(stock[0]!.update).equals(Buffer.from(older[0]!.update))).toBe(true);
  });

  it('when a stock client gets the answer, then at its synced event it already holds every change, also those made after the load', async () => {
    const docName = 'learner_first_sync_synced';
    const w = await writer(docName);
    await writeInParts(w, docName, 3, 'a');
    await unload(w);
    const again = await writer(docName); // loads it
    await writeInParts(again, docName, 2, 'b'); // changes after the load

    const fresh = connectClient(fixture.server.syncUrl, docName, await fixture.server.tokens.sign(docName));
    clients.push(fresh);
    let atSynced: unknown = null;
    fresh.provider.on('sync', (synced: boolean) => {
      if (synced && atSynced === null) atSynced = fresh.map.toJSON();
    });
    await fresh.whenSynced();
    expect(atSynced).toEqual({ a0: 0, a1: 1, a2: 2, b0: 0, b1: 1 });
  });

  it('when the document was compacted after a deletion, then a new device gets a fresh encoding without the deleted content', async () => {
    const docName = 'learner_first_sync_compacted';
    const w = await writer(docName);
    await writeInParts(w, docName, 2, 'd');
    w.map.set('secret', 'deleted text that must not reach a new device');
    await writeInParts(w, docName, 1, 'e');
    await unload(w);
    const again = await writer(docName); // loads it: the base holds the secret
    const before = (await fixture.store.documents.loadDocument(docName)).updates.length;
    again.map.delete('secret');
    await until(async () => (await fixture.store.documents.loadDocument(docName)).updates.length > before, 'the deletion is stored');
    const bytes = (update: Uint8Array): string => Buffer.from(update).toString('latin1');

    // Until a compaction the store itself still holds the deleted content (the base is as stored).
    const uncompacted = await firstSyncOf(docName);
    expect(uncompacted.map((m) => m.type)).toEqual([2, 1]);
    expect(uncompacted.some((m) => bytes(m.update).includes('deleted text'))).toBe(true);
    await fixture.server.service.runSnapshots();
    await until(async () => (await fixture.store.documents.loadDocument(docName)).snapshot !== null, 'the document is compacted');

    const messages = await firstSyncOf(docName);
    expect(messages.map((m) => m.type)).toEqual([1]);
    expect(bytes(messages[0]!.update)).not.toContain('deleted text');
    expect(contentOf([messages[0]!.update])).toEqual({ d0: 0, d1: 1, e0: 0 });
  });

  it('when the stored log and the changes since the load hold deletions, array and text edits, then a stock client that syncs first ends with exactly the writer\'s state', async () => {
    const docName = 'learner_first_sync_mixed';
    const w = await writer(docName);
    const edit = async (change: (doc: Y.Doc) => void): Promise<void> => {
      const before = (await fixture.store.documents.loadDocument(docName)).updates.length;
      change(w.doc);
      await until(async () => (await fixture.store.documents.loadDocument(docName)).updates.length > before, 'the edit is stored');
    };
    // Stored as separate log entries: the base of the next load is the first of them.
    await edit((d) => d.getArray('list').insert(0, ['a', 'b', 'c']));
    await edit((d) => d.getText('notes').insert(0, 'hello world'));
    await edit((d) => {
      d.getArray('list').delete(1, 1);
      d.getText('notes').delete(0, 6);
      d.getMap('m').set('k', 1);
    });
    await unload(w);

    const again = await writer(docName); // loads it
    again.doc.getArray('list').insert(1, ['x']);
    again.doc.getText('notes').insert(0, 'big ');
    again.map.delete('k');
    again.map.set('j', 2);
    const expected = { list: ['a', 'x', 'c'], notes: 'big world', m: { j: 2 } };
    const state = (d: Y.Doc): unknown => ({ list: d.getArray('list').toJSON(), notes: d.getText('notes').toString(), m: d.getMap('m').toJSON() });
    await until(async () => JSON.stringify(await fixture.server.service.documents.read(docName as DocName, state)) === JSON.stringify(expected), 'the server has the changes');

    // Answered in parts: the changes since the base, then the base.
    const raw = await firstSyncOf(docName);
    expect(raw.map((m) => m.type)).toEqual([2, 1]);
    const fresh = connectClient(fixture.server.syncUrl, docName, await fixture.server.tokens.sign(docName));
    clients.push(fresh);
    let atSynced: unknown = null;
    fresh.provider.on('sync', (synced: boolean) => {
      if (synced && atSynced === null) atSynced = state(fresh.doc);
    });
    await fresh.whenSynced();
    expect(atSynced).toEqual(expected);
    expect(fresh.doc.store.pendingStructs).toBeNull();
    expect(fresh.doc.store.pendingDs).toBeNull();
  });

  it('when more than the limit changed since the base, then the device gets one fresh encoding of the document', async () => {
    const docName = 'learner_first_sync_past_limit';
    const w = await writer(docName);
    await writeInParts(w, docName, 2, 'c');
    await unload(w);
    const again = await writer(docName);
    // Changes after the load, each below the message cap, together past the limit.
    const chunk = 'x'.repeat(48 * 1024);
    const chunks = Math.ceil(MAX_CHANGES_AFTER_BASE.bytes / chunk.length) + 1;
    for (let i = 0; i < chunks; i++) again.map.set(`big${i}`, chunk);
    const bigKeys = (doc: Y.Doc): number => [...doc.getMap('m').keys()].filter((k) => k.startsWith('big')).length;
    await until(async () => (await fixture.server.service.documents.read(docName as DocName, bigKeys)) === chunks, 'the changes reached the server');

    const messages = await firstSyncOf(docName);
    expect(messages.map((m) => m.type)).toEqual([1]);
    const content = contentOf(messages.map((m) => m.update)) as Record<string, unknown>;
    expect(content['c0']).toBe(0);
    expect(content['c1']).toBe(1);
    expect(Object.keys(content).filter((k) => k.startsWith('big'))).toHaveLength(chunks);
    // That encoding is the new base: the next device gets it as it is, with nothing before it.
    const next = await firstSyncOf(docName);
    expect(next.map((m) => m.type)).toEqual([1]);
    expect(Buffer.from(next[0]!.update).equals(Buffer.from(messages[0]!.update))).toBe(true);
  });
});
