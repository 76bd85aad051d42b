/**
 * The y-websocket wire protocol as pure functions over lib0 (bytes in `docs/PROTOCOL.md`).
 * Nothing here touches a socket or a document: decoding untrusted frames is separate from acting
 * on them, so a frame either decodes completely or is rejected before any state changes.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

/** Outer message types (first varUint of every frame). 0–3 are y-websocket's. */
export const MessageType = {
  SYNC: 0,
  AWARENESS: 1,
  AUTH: 2,
  QUERY_AWARENESS: 3,
  /**
   * Ours: "your updates are in the durable log". Sent only to connections opened with `?ack=1`,
   * so stock clients (which never ask) never see a type they cannot handle.
   */
  DURABLE_ACK: 100,
} as const;

/** Inner types of a SYNC message (y-protocols/sync). */
export const SyncType = { STEP1: 0, STEP2: 1, UPDATE: 2 } as const;

/** A decoded client frame. Byte arrays are views into the frame. */
export type ClientMessage =
  | { readonly type: 'sync-step1'; readonly stateVector: Uint8Array }
  | { readonly type: 'sync-step2'; readonly update: Uint8Array }
  | { readonly type: 'sync-update'; readonly update: Uint8Array }
  | { readonly type: 'awareness'; readonly update: Uint8Array }
  | { readonly type: 'query-awareness' };

/** Thrown by {@link readClientMessage} for a frame that is not a complete y-websocket message. */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

/**
 * Decodes one client frame. Throws {@link MalformedMessageError} for unknown types, truncated
 * fields and trailing bytes (strict: a frame means exactly one message). The payloads themselves
 * (Yjs updates, awareness JSON) are validated where they are applied.
 */
export function readClientMessage(frame: Uint8Array): ClientMessage {
  try {
    const decoder = decoding.createDecoder(frame);
    const type = decoding.readVarUint(decoder);
    let message: ClientMessage;
    switch (type) {
      case MessageType.SYNC: {
        const syncType = decoding.readVarUint(decoder);
        const payload = decoding.readVarUint8Array(decoder);
        if (syncType === SyncType.STEP1) message = { type: 'sync-step1', stateVector: payload };
        else if (syncType === SyncType.STEP2) message = { type: 'sync-step2', update: payload };
        else if (syncType === SyncType.UPDATE) message = { type: 'sync-update', update: payload };
        else throw new MalformedMessageError(`unknown sync message type ${syncType}`);
        break;
      }
      case MessageType.AWARENESS:
        message = { type: 'awareness', update: decoding.readVarUint8Array(decoder) };
        break;
      case MessageType.QUERY_AWARENESS:
        message = { type: 'query-awareness' };
        break;
      default:
        throw new MalformedMessageError(`unknown message type ${type}`);
    }
    if (decoding.hasContent(decoder)) throw new MalformedMessageError('trailing bytes after the message');
    return message;
  } catch (error) {
    if (error instanceof MalformedMessageError) throw error;
    // lib0 throws plain Errors ("Unexpected end of array", "Integer out of Range").
    throw new MalformedMessageError(error instanceof Error ? error.message : 'undecodable frame');
  }
}

function sync(syncType: number, payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.SYNC);
  encoding.writeVarUint(encoder, syncType);
  encoding.writeVarUint8Array(encoder, payload);
  return encoding.toUint8Array(encoder);
}

/** `[0, 0, stateVector]`: "send me what I am missing". */
export const writeSyncStep1 = (stateVector: Uint8Array): Uint8Array => sync(SyncType.STEP1, stateVector);
/** `[0, 1, update]`: the answer to a step 1. */
export const writeSyncStep2 = (update: Uint8Array): Uint8Array => sync(SyncType.STEP2, update);
/** `[0, 2, update]`: a live update. */
export const writeSyncUpdate = (update: Uint8Array): Uint8Array => sync(SyncType.UPDATE, update);

/** `[1, awarenessUpdate]`. */
export function writeAwareness(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.AWARENESS);
  encoding.writeVarUint8Array(encoder, update);
  return encoding.toUint8Array(encoder);
}

/** What a durable acknowledgement says. */
export interface DurableAck {
  /**
   * How many update-carrying messages (sync step 2 and update) this connection has sent whose
   * effects are now in the durable log, counted from the start of the connection.
   */
  readonly messages: number;
  /**
   * A Yjs state vector (v1 encoding): every insertion it covers is durable. Deletions do not move
   * a state vector, which is why {@link messages} exists.
   */
  readonly stateVector: Uint8Array;
}

/** `[100, messages, stateVector]`. */
export function writeDurableAck(ack: DurableAck): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MessageType.DURABLE_ACK);
  encoding.writeVarUint(encoder, ack.messages);
  encoding.writeVarUint8Array(encoder, ack.stateVector);
  return encoding.toUint8Array(encoder);
}

/** Decodes a durable acknowledgement (client side, tests). Throws on anything else. */
export function readDurableAck(frame: Uint8Array): DurableAck {
  const decoder = decoding.createDecoder(frame);
  const type = decoding.readVarUint(decoder);
  if (type !== MessageType.DURABLE_ACK) throw new MalformedMessageError(`not a durable ack (type ${type})`);
  const messages = decoding.readVarUint(decoder);
  const stateVector = decoding.readVarUint8Array(decoder);
  return { messages, stateVector };
}
