/**
 * The fan-out port: how instances that share one store tell each other about document changes.
 * An instance receives the messages of the documents it subscribed to (the ones it has loaded),
 * never the others'. Messages are best-effort and may be missed after a gap; the store's log is the source of truth
 * and {@link FanoutHandler.onGap} tells the document manager to re-read it.
 */

export type FanoutMessage =
  /** A Yjs update (v1) made on the publishing instance. */
  | { readonly kind: 'update'; readonly docName: string; readonly author: string; readonly payload: Uint8Array }
  /** An awareness update (y-protocols encoding). */
  | { readonly kind: 'awareness'; readonly docName: string; readonly payload: Uint8Array }
  /** "I just loaded this document with this state vector: send me what I miss." */
  | { readonly kind: 'sync-request'; readonly docName: string; readonly payload: Uint8Array }
  /** The document was erased: drop it and close its connections. */
  | { readonly kind: 'erase'; readonly docName: string };

export interface FanoutHandler {
  onMessage(message: FanoutMessage): void;
  /** Messages may have been missed (reconnect, stream trimmed): re-read loaded documents from the store. */
  onGap(): void;
}

export interface Fanout {
  /** False for the in-process no-op: callers skip work that only matters with peers. */
  readonly enabled: boolean;
  /** Fire and forget; failures are logged by the adapter, never thrown to the fan-out path. */
  publish(message: FanoutMessage): void;
  /**
   * Starts receiving the messages of `docName`: those published after this call (the caller has
   * just loaded it from the store and asks for the rest with a sync request published next).
   */
  subscribe(docName: string): void;
  /** Stops receiving the messages of `docName` (unloaded or erased here). */
  unsubscribe(docName: string): void;
  start(handler: FanoutHandler): Promise<void>;
  stop(): Promise<void>;
}

/** One instance: nobody to tell. */
export function createLocalFanout(): Fanout {
  return {
    enabled: false,
    publish() {},
    subscribe() {},
    unsubscribe() {},
    async start() {},
    async stop() {},
  };
}
