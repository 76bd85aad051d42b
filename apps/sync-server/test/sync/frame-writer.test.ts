import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as wsModule from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { binaryFrame, createFrameWriter } from '../../src/ws/frame-writer.js';
import { until } from '../helpers/sync.js';

/** A real server/client socket pair on loopback; the client offers permessage-deflate. */
async function socketPair(deflateMinBytes: number): Promise<{ server: WebSocket; client: WebSocket; received: Buffer[]; close(): Promise<void> }> {
  const http: Server = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: deflateMinBytes > 0 ? { threshold: deflateMinBytes, serverNoContextTakeover: true, clientNoContextTakeover: true } : false });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
  const received: Buffer[] = [];
  client.on('message', (data: Buffer) => void received.push(data));
  await new Promise((resolve) => client.once('open', resolve));
  const server = await accepted;
  return {
    server,
    client,
    received,
    close: async () => {
      client.terminate();
      wss.close();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

/** ws's own framing (exported by ws, not declared by @types/ws): the reference for ours. */
const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] } };

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251);

describe('broadcast frames written once', () => {
  let close: (() => Promise<void>) | null = null;
  afterEach(async () => {
    await close?.();
    close = null;
  });

  it('when a payload is framed, then the bytes are what ws itself puts on the wire, at every length encoding', () => {
    for (const n of [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]) {
      const payload = bytes(n, n);
      const ours = binaryFrame(payload);
      const theirs = Buffer.concat(Sender.frame(Buffer.from(payload), { fin: true, opcode: 2, mask: false, readOnly: false, rsv1: false }));
      expect(ours.equals(theirs), `length ${n}`).toBe(true);
    }
  });

  it('when the same frame goes to a socket several times, then the client receives each message whole', async () => {
    const pair = await socketPair(16 * 1024);
    close = pair.close;
    const writer = createFrameWriter(16 * 1024);
    const small = bytes(200, 1);
    for (let i = 0; i < 3; i++) writer.send(pair.server, small);
    await until(() => pair.received.length === 3, 'three messages');
    for (const message of pair.received) expect(new Uint8Array(message)).toEqual(small);
  });

  it('when a large message is still being compressed, then a small one sent after it arrives after it', async () => {
    const pair = await socketPair(1024);
    close = pair.close;
    expect(pair.server.extensions).toContain('permessage-deflate');
    const writer = createFrameWriter(1024);
    const large = bytes(200_000, 7);
    const small = bytes(50, 9);
    // ws compresses asynchronously: the small frame is sent while the large one is in zlib.
    writer.send(pair.server, large);
    writer.send(pair.server, small);
    await until(() => pair.received.length === 2, 'both messages');
    expect(new Uint8Array(pair.received[0]!)).toEqual(large);
    expect(new Uint8Array(pair.received[1]!)).toEqual(small);
  });

  it('when permessage-deflate is off, then large frames are written whole too', async () => {
    const pair = await socketPair(0);
    close = pair.close;
    const writer = createFrameWriter(0);
    const large = bytes(100_000, 3);
    writer.send(pair.server, large);
    await until(() => pair.received.length === 1, 'the message');
    expect(new Uint8Array(pair.received[0]!)).toEqual(large);
  });
});
