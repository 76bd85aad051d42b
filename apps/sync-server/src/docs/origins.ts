/**
 * Transaction origins on the server, in the learner document's own vocabulary (crdt-model
 * `Origin`: `server`, `remote`, `persistence`) plus the one kind only the server has: the
 * WebSocket peer itself, so that a peer is never sent its own changes back.
 */
import type { Origin } from '@prepmate/crdt-model';

/**
 * A connected client of a document, as the document layer sees it. The WebSocket endpoint
 * implements it; the document layer never touches sockets.
 */
export interface Peer {
  readonly kind: 'peer';
  /** userId of the connection, or `service:<userId>` for a service token. Stored with its updates. */
  readonly author: string;
  /** Awareness clientIDs this peer announced; removed (and broadcast) when it leaves. */
  readonly awarenessIds: Set<number>;
  /** Opened with `?ack=1`: receives durable acknowledgements. */
  readonly wantsAck: boolean;
  /** One message; a broadcast passes the same Uint8Array to every peer, and nobody modifies it afterwards (the endpoint keeps its encoded frame per array). */
  send(frame: Uint8Array): void;
  close(code: number, reason: string): void;
}

/** A server-side change (REST, jobs), with the author the update log records. */
export type ServiceOrigin = Extract<Origin, { kind: 'server' }> & { readonly author: string };
/** An update that arrived from another instance through the fan-out. */
export type InstanceOrigin = Extract<Origin, { kind: 'remote' }> & { readonly author: string };
/** Content read back from the store: already durable, not logged again. */
export type LoadOrigin = Extract<Origin, { kind: 'persistence' }>;

/** Every transaction origin the server uses: a typed union, never bare strings. */
export type SyncOrigin = Peer | ServiceOrigin | InstanceOrigin | LoadOrigin;

export const LOAD_ORIGIN: LoadOrigin = Object.freeze({ kind: 'persistence' });

export const serviceOrigin = (author: string): ServiceOrigin => ({ kind: 'server', author });
export const instanceOrigin = (author: string): InstanceOrigin => ({ kind: 'remote', author });

/** True for origins whose changes were made on this instance (published to the others). */
export const isMadeHere = (origin: SyncOrigin | null | undefined): origin is Peer | ServiceOrigin => origin?.kind === 'peer' || origin?.kind === 'server';

/** Narrows the `unknown` origin Yjs and y-protocols hand to listeners; null for anything untyped. */
export function asSyncOrigin(origin: unknown): SyncOrigin | null {
  if (typeof origin !== 'object' || origin === null || !('kind' in origin)) return null;
  const o = origin as { kind: unknown; author?: unknown };
  if (o.kind === 'peer' || o.kind === 'persistence') return origin as SyncOrigin;
  if ((o.kind === 'server' || o.kind === 'remote') && typeof o.author === 'string') return origin as SyncOrigin;
  return null;
}
