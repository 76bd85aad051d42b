import { describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import * as Y from 'yjs';
import { readClientMessage, writeSyncUpdate } from '../../src/protocol/wire.js';
import { connectClient, rawSocket, readStored, until, useSqliteSyncServer } from '../helpers/sync.js';

/** Client ids whose structs an update carries. */
function authorsOf(update: Uint8Array): Set<number> {
  return new Set(Y.decodeUpdate(update).structs.map((s) => s.id.client));
}

describe('coalescing', () => {
  const fx = useSqliteSyncServer();

  async function open(docName: string, token: string): Promise<{ ws: WebSocket; updates: Uint8Array[] }> {
    const opened = await rawSocket(`${fx.server.syncUrl}/${docName}?token=${token}`);
    if (!('ws' in opened)) throw new Error(`refused: ${opened.status}`);
    const updates: Uint8Array[] = [];
    opened.ws.on('message', (data: Buffer) => {
      const message = readClientMessage(new Uint8Array(data));
      if (message.type === 'sync-update') updates.push(message.update);
    });
    return { ws: opened.ws, updates };
  }

  it('when two writers send many updates in one turn, then an observer gets few messages with all of them and no writer gets its own back', async () => {
    const token = await fx.server.tokens.sign('coal');
    const a = await open('coal', token);
    const b = await open('coal', token);
    const observer = await open('coal', token);
    const docA = new Y.Doc();
    const docB = new Y.Doc();
    const framesA: Uint8Array[] = [];
    const framesB: Uint8Array[] = [];
    docA.on('update', (u: Uint8Array) => framesA.push(writeSyncUpdate(u)));
    docB.on('update', (u: Uint8Array) => framesB.push(writeSyncUpdate(u)));
    for (let i = 0; i < 100; i++) {
      docA.getMap('m').set(`a${i}`, i);
      docB.getMap('m').set(`b${i}`, i);
    }
    // Written back to back, so the server reads them within very few turns.
    for (const f of framesA) a.ws.send(f);
    for (const f of framesB) b.ws.send(f);
    const mirror = new Y.Doc();
    let observerMessages = 0;
    await until(() => {
      const batch = observer.updates.splice(0);
      observerMessages += batch.length;
      for (const u of batch) Y.applyUpdate(mirror, u);
      return mirror.getMap('m').size === 200;
    }, 'observer has all 200');
    await until(async () => (await readStored(fx.store, 'coal')).getMap('m').size === 200, 'durable');
    // 200 updates arrived in a few turns; without coalescing the observer would get 200 messages.
    expect(observerMessages).toBeLessThan(50);
    // a's copy of b's updates travels on its own socket: the observer having everything does not
    // mean a has read it yet.
    const replicaA = new Y.Doc();
    let appliedToA = 0;
    await until(() => {
      for (const u of a.updates.slice(appliedToA)) Y.applyUpdate(replicaA, u);
      appliedToA = a.updates.length;
      return replicaA.getMap('m').size === 100;
    }, 'a has b’s 100 updates');
    // No echo: each writer only ever receives the other writer's structs.
    for (const u of a.updates) expect(authorsOf(u).has(docA.clientID)).toBe(false);
    for (const u of b.updates) expect(authorsOf(u).has(docB.clientID)).toBe(false);
    for (const s of [a, b, observer]) s.ws.close();
  });

  it('when the observer counts messages for 200 updates sent in one burst, then it receives far fewer than 200 frames', async () => {
    const token = await fx.server.tokens.sign('burst');
    const writer = await open('burst', token);
    const observer = await open('burst', token);
    const doc = new Y.Doc();
    const frames: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => frames.push(writeSyncUpdate(u)));
    for (let i = 0; i < 200; i++) doc.getText('t').insert(i, 'x');
    let received = 0;
    const mirror = new Y.Doc();
    observer.ws.on('message', () => void (received += 1));
    for (const f of frames) writer.ws.send(f);
    await until(() => {
      for (const u of observer.updates.splice(0)) Y.applyUpdate(mirror, u);
      return mirror.getText('t').length === 200;
    }, 'observer has the text');
    expect(received).toBeLessThan(50);
    writer.ws.close();
    observer.ws.close();
  });

  it('when clients make random edits while reconnecting, then every replica and the store converge', async () => {
    const token = await fx.server.tokens.sign('fuzz');
    let seed = 42;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const clients = Array.from({ length: 4 }, () => connectClient(fx.server.syncUrl, 'fuzz', token));
    await Promise.all(clients.map((c) => c.whenSynced()));
    for (let step = 0; step < 400; step++) {
      const c = clients[Math.floor(random() * clients.length)]!;
      const r = random();
      const text = c.doc.getText('t');
      if (r < 0.4) text.insert(Math.floor(random() * (text.length + 1)), String.fromCharCode(97 + Math.floor(random() * 26)));
      else if (r < 0.55 && text.length > 0) text.delete(Math.floor(random() * text.length), 1);
      else if (r < 0.85) c.map.set(`k${Math.floor(random() * 20)}`, step);
      else if (r < 0.93) c.provider.disconnect();
      else c.provider.connect();
      if (step % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    for (const c of clients) c.provider.connect();
    // Map iteration order is insertion order per replica; compare sorted entries.
    const mapOf = (c: (typeof clients)[number]): string => JSON.stringify([...c.map.entries()].sort(([a], [b]) => a.localeCompare(b)));
    const same = (): boolean => {
      const t = clients[0]!.doc.getText('t').toString();
      const m = mapOf(clients[0]!);
      return clients.every((c) => c.doc.getText('t').toString() === t && mapOf(c) === m);
    };
    await until(same, 'replicas converge', 20_000);
    const expected = clients[0]!.doc.getText('t').toString();
    await until(async () => (await readStored(fx.store, 'fuzz')).getText('t').toString() === expected, 'store converges', 10_000);
    for (const c of clients) c.destroy();
  });
});
