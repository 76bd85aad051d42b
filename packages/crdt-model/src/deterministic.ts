/**
 * Deterministic creation of shared Yjs structures.
 *
 * A Yjs map key is a last-writer-wins register. If two replicas that have not synced both do
 * `topics.set(id, new Y.Map())`, one nested map wins and every field written into the other one
 * is lost — two learners' devices editing `status` and `goal` of a new topic offline would lose
 * one of the two edits. Yjs identifies every struct by `(clientID, clock)` and ignores a struct
 * it already has. So instead of each replica creating its own map, every replica creates *the
 * same* struct: a one-item update written by a reserved clientID derived from the topicId, at
 * clock 0, with no left/right neighbour. Both replicas produce identical bytes; whichever
 * arrives second is a duplicate; both replicas' field writes land in one shared `Y.Map`.
 *
 * Reserved clientIDs are ≥ 2³², outside the uint32 range Yjs draws random clientIDs from, so
 * they never collide with a real client. The schema genesis (`meta.schemaVersion = 1`) uses the
 * same trick so that a replica that initialises a new document never races a migration.
 */
import * as Y from 'yjs';

/** Random Yjs clientIDs are uint32; ids from here on are reserved for deterministic structs. */
export const RESERVED_CLIENT_BASE = 2 ** 32;
/** The clientID of the schema-genesis struct (`meta.schemaVersion = 1`). */
export const GENESIS_CLIENT_ID = RESERVED_CLIENT_BASE;
const TOPIC_CLIENT_SPAN = Number.MAX_SAFE_INTEGER - RESERVED_CLIENT_BASE - 1;

/**
 * cyrb53 (public domain): a fast 53-bit string hash with good dispersion. 53 bits keep the
 * chance that two of a learner's topics share a clientID negligible (~n²/2⁵⁴: 10⁻¹² for 200).
 */
export function cyrb53(str: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** The reserved clientID that creates the `Y.Map` of `topicId` (same on every replica). */
export function topicClientId(topicId: string): number {
  return RESERVED_CLIENT_BASE + 1 + (cyrb53(topicId) % TOPIC_CLIENT_SPAN);
}

/** The update that creates `topics[topicId]` as an empty `Y.Map`, identical on every replica. */
export function topicCreationUpdate(topicId: string): Uint8Array {
  const tmp = new Y.Doc({ gc: false });
  tmp.clientID = topicClientId(topicId);
  tmp.getMap('topics').set(topicId, new Y.Map());
  const update = Y.encodeStateAsUpdate(tmp);
  tmp.destroy();
  return update;
}

/** The update that sets `meta.schemaVersion = 1`, identical on every replica. */
export function genesisUpdate(): Uint8Array {
  const tmp = new Y.Doc({ gc: false });
  tmp.clientID = GENESIS_CLIENT_ID;
  tmp.getMap('meta').set('schemaVersion', 1);
  const update = Y.encodeStateAsUpdate(tmp);
  tmp.destroy();
  return update;
}

/**
 * Applies a deterministic update inside the caller's transaction. `Y.applyUpdate` marks the
 * transaction remote; we restore the flag because the rest of the transaction is this
 * replica's own writes, and Yjs would otherwise think another client uses our clientID (and
 * silently change it) and providers would not forward the change.
 */
export function applyDeterministic(tr: Y.Transaction, update: Uint8Array): void {
  const wasLocal = tr.local;
  Y.applyUpdate(tr.doc, update);
  tr.local = wasLocal;
}
