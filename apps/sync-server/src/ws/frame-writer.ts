/**
 * One broadcast frame written to many sockets. `ws.send` frames every message per socket: it
 * wraps the bytes in a Buffer, allocates a header, and hands header and payload to the socket as
 * two writes (a writev). A fan-out sends the same bytes to every peer, so the complete frame
 * (header and payload) is built once per message and written to each socket as one Buffer.
 *
 * Only where it is exactly what `ws.send` would have put on the wire: a server frame (never
 * masked), binary, final, not compressed (below the permessage-deflate threshold, or the
 * extension was not negotiated), and only while the socket's `ws` sender is idle. While it is
 * compressing an earlier message (a large sync step 2) it queues later sends, and a frame
 * written past that queue would overtake it; then the frame goes through `ws.send`, in order.
 * What is written this way counts in `ws.bufferedAmount` (it is the socket's own buffer), so the
 * slow-reader cap applies unchanged.
 *
 * This reads two fields of `ws` that are not its documented API (`_sender`, `_socket`); ws is
 * pinned, and when either is not as expected every frame simply takes `ws.send`.
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';

/** The parts of a `ws` WebSocket this module reads (ws 8.x internals). */
interface WsInternals {
  readonly _socket?: Duplex | null;
  readonly _sender?: { readonly _state?: unknown; readonly _queue?: { readonly length: number } } | null;
  readonly _extensions?: Record<string, unknown>;
}

/** ws's Sender state when it is neither compressing nor reading a Blob. */
const SENDER_IDLE = 0;
const FIN_BINARY = 0x82;

/** `payload` as one unmasked, final, binary WebSocket frame (RFC 6455 §5.2). */
export function binaryFrame(payload: Uint8Array): Buffer {
  const length = payload.byteLength;
  const headerBytes = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerBytes + length);
  frame[0] = FIN_BINARY;
  if (length < 126) frame[1] = length;
  else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.set(payload, headerBytes);
  return frame;
}

export interface FrameWriter {
  /** Sends `payload` as one binary message on `ws` (which must be OPEN). */
  send(ws: WebSocket, payload: Uint8Array): void;
}

/**
 * `deflateMinBytes`: the endpoint's permessage-deflate threshold (0: never negotiated). The
 * encoded frame is remembered per payload object, so the caller passes the same Uint8Array to
 * every recipient of one message; it is forgotten with the payload.
 */
export function createFrameWriter(deflateMinBytes: number): FrameWriter {
  const frames = new WeakMap<Uint8Array, Buffer>();
  return {
    send(ws, payload) {
      const internals = ws as unknown as WsInternals;
      const socket = internals._socket;
      const sender = internals._sender;
      const compressible = deflateMinBytes > 0 && payload.byteLength >= deflateMinBytes && internals._extensions?.['permessage-deflate'] !== undefined;
      if (compressible || !socket || !sender || sender._state !== SENDER_IDLE || sender._queue?.length !== 0 || ws.readyState !== WebSocket.OPEN) {
        ws.send(payload);
        return;
      }
      let frame = frames.get(payload);
      if (!frame) {
        frame = binaryFrame(payload);
        frames.set(payload, frame);
      }
      socket.write(frame);
    },
  };
}
