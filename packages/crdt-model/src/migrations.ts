/**
 * Schema versions and migrations. The registry is an instance (no module-global state): the
 * server and the SDK each build theirs and pass it to `ensureSchema`.
 */

/** The schema version this package writes (docs/crdt-model.md). */
export const CURRENT_SCHEMA_VERSION = 1;

/**
 * One migration step from `to - 1` to `to`. It runs inside one transaction with origin
 * `{ kind: 'migration', from, to }`, after which `meta.schemaVersion` is `to`. Two replicas may
 * run the same step concurrently (both saw version `to - 1`), so a step must be idempotent and
 * must converge when both replicas' writes are merged: write deterministic values, only add keys.
 */
export type Migration<Target> = (target: Target, step: { readonly from: number; readonly to: number }) => void;

/** Migration steps keyed by the version they produce. */
export class MigrationRegistry<Target> {
  readonly #steps = new Map<number, Migration<Target>>();

  /** Registers the step that produces `toVersion` (≥ 2). Registering a version twice is a bug. */
  register(toVersion: number, migrate: Migration<Target>): this {
    if (!Number.isInteger(toVersion) || toVersion < 2) throw new RangeError(`a migration produces a version ≥ 2, got ${toVersion}`);
    if (this.#steps.has(toVersion)) throw new Error(`a migration to version ${toVersion} is already registered`);
    this.#steps.set(toVersion, migrate);
    return this;
  }

  /** The step that produces `toVersion`, if registered. */
  step(toVersion: number): Migration<Target> | undefined {
    return this.#steps.get(toVersion);
  }

  /** The highest version a registered chain of steps reaches from {@link CURRENT_SCHEMA_VERSION}. */
  latestVersion(): number {
    let v = CURRENT_SCHEMA_VERSION;
    while (this.#steps.has(v + 1)) v += 1;
    return v;
  }
}

/** What `ensureSchema` found and did. */
export interface SchemaStatus {
  /** `meta.schemaVersion` after the call. */
  readonly version: number;
  /** Versions produced by the steps run in this call, in order. */
  readonly migrated: readonly number[];
  /**
   * `false` when the document is newer than this code understands; the caller should then
   * only read (and tell the user to update) rather than write fields it does not know.
   */
  readonly supported: boolean;
}
