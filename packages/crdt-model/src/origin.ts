/**
 * Transaction origins of the learner document. Yjs passes the origin of a transaction to every
 * observer; a typed union (instead of bare strings) lets providers and persistence tell their
 * own writes from others' without string comparisons that drift apart.
 */

/** Who made a change. */
export type Origin =
  /** This replica's user, through the typed API. */
  | { readonly kind: 'local' }
  /** An update received from another replica (a peer or a provider). */
  | { readonly kind: 'remote'; readonly peer?: string }
  /** The sync server: updates from a connection, or server-side merges of REST items. */
  | { readonly kind: 'server'; readonly connectionId?: string; readonly batchId?: string }
  /** Loaded from local storage (snapshot or update log); never sent back out. */
  | { readonly kind: 'persistence' }
  /** A schema migration step. */
  | { readonly kind: 'migration'; readonly from: number; readonly to: number };

/** The kinds of {@link Origin}. */
export type OriginKind = Origin['kind'];

/** The origin of the typed API's own writes. */
export const LOCAL_ORIGIN: Origin = Object.freeze({ kind: 'local' });
/** The default origin of {@link LearnerDocument.applyUpdate}. */
export const REMOTE_ORIGIN: Origin = Object.freeze({ kind: 'remote' });

const KINDS: ReadonlySet<string> = new Set<OriginKind>(['local', 'remote', 'server', 'persistence', 'migration']);

/** Narrows a Yjs transaction origin (which may be anything a provider passed) to an {@link Origin}. */
export function isOrigin(value: unknown): value is Origin {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { kind?: unknown }).kind === 'string' &&
    KINDS.has((value as { kind: string }).kind)
  );
}
