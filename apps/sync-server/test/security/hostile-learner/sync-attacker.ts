/**
 * Tools of the hostile-learner sync suites: a raw socket that can stop reading, frames built with
 * the server's own wire helpers, a big document, and measurements (process RSS and the server's
 * own accounting of bytes queued for sockets).
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { writeAwareness, writeSyncStep1, writeSyncStep2 } from '../../../src/protocol/wire.js';
import { connectClient, rawSocket, until, type SyncTestServer } from '../../helpers/sync.js';

export const MiB = 1024 * 1024;

export const rssMiB = (): number => process.memoryUsage().rss / MiB;

/** Opens a raw socket for `userId` on `docName`; fails the test when refused. */
export async function attackerSocket(server: SyncTestServer, userId: string, docName: string): Promise<WebSocket> {
  const token = await server.tokens.sign(userId);
  // An attacker does not offer compression: then every byte it makes the server send is a byte
  // queued, and padding made of one repeated character cannot shrink to nothing on the wire.
  const opened = await rawSocket(`${server.syncUrl}/${encodeURIComponent(docName)}?token=${token}`, { perMessageDeflate: false });
  if (!('ws' in opened)) throw new Error(`upgrade refused: ${opened.status} ${opened.body}`);
  opened.ws.on('error', () => undefined);
  return opened.ws;
}

/** The client stops reading: its kernel buffer fills, then everything the server sends queues on the server. */
export function stopReading(ws: WebSocket): void {
  (ws as unknown as { _socket: Socket })._socket.pause();
}

/** A Yjs update of about `bytes` bytes (one text insert of incompressible-looking characters). */
export function bigUpdate(bytes: number, seed = 1): Uint8Array {
  const doc = new Y.Doc();
  let x = seed;
  const chars: string[] = [];
  for (let i = 0; i < bytes; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    chars.push(String.fromCharCode(97 + (x % 26)));
  }
  doc.getText('t').insert(0, chars.join(''));
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

/** A sync-step-1 whose state vector names a client the server never saw: the answer is the whole document. */
export function unknownStepOne(clientId: number): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = clientId;
  doc.getMap('x').set('k', 1);
  const frame = writeSyncStep1(Y.encodeStateVector(doc));
  doc.destroy();
  return frame;
}

/** `[0, 2, update]`: the server applies it like an update. */
export const updateFrame = (update: Uint8Array): Uint8Array => writeSyncStep2(update);

/** Sends `frame` and resolves once it left this process. */
export const sendFrame = (ws: WebSocket, frame: Uint8Array): Promise<void> =>
  new Promise((resolve, reject) => ws.send(frame, (error) => (error ? reject(error) : resolve())));

/** Writes `value` under `key` through one stock provider of `userId` and waits until a second one sees it. */
export async function victimRoundTrip(server: SyncTestServer, userId: string, key: string, timeoutMs = 20_000): Promise<void> {
  const token = await server.tokens.sign(userId);
  const writer = connectClient(server.syncUrl, `${userId}/notes`, token);
  const reader = connectClient(server.syncUrl, `${userId}/notes`, token);
  try {
    await Promise.all([writer.whenSynced(timeoutMs), reader.whenSynced(timeoutMs)]);
    writer.map.set(key, 'delivered');
    await until(() => reader.map.get(key) === 'delivered', `${userId}: another learner's update delivered`, timeoutMs);
  } finally {
    writer.destroy();
    reader.destroy();
  }
}

/** Count of sockets the server closed with `code` (its metrics). */
export async function closedWith(server: SyncTestServer, code: number): Promise<number> {
  const text = await server.registry.metrics();
  const match = new RegExp(`prepmate_sync_sockets_closed_total\\{code="${code}"[^}]*\\} (\\d+)`).exec(text);
  return match ? Number(match[1]) : 0;
}

/** `[1, awareness update]` setting client `clientId`'s state at `clock` to `{ pad }` of about `bytes` bytes. */
export function awarenessFrame(clientId: number, clock: number, bytes: number): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 1);
  encoding.writeVarUint(encoder, clientId);
  encoding.writeVarUint(encoder, clock);
  encoding.writeVarString(encoder, JSON.stringify({ pad: 'x'.repeat(bytes) }));
  return writeAwareness(encoding.toUint8Array(encoder));
}
