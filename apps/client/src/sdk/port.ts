/**
 * The SDK as the app uses it: one learner session. The stores depend on this interface only,
 * so that component tests run on a fake (test/fakes.ts) and the real SDK is wired in exactly one
 * place (`browser-session.ts`).
 */
import type { LearnerDocument } from '@prepmate/crdt-model';
import type { ServerCloseReason } from '@prepmate/sync-client';
import type { InjectionKey } from 'vue';

/** A JSON value as telemetry carries it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object (event data). */
export type JsonObject = { [key: string]: JsonValue };

/** What the sync panel shows; a snapshot of the SDK's status. */
export interface SessionStatus {
  /** The browser believes the network is reachable. */
  readonly online: boolean;
  /** The document's WebSocket is open. */
  readonly connected: boolean;
  /** The document finished its first sync with the server on the current connection. */
  readonly synced: boolean;
  /** Local document changes the server has not yet acknowledged as durable. */
  readonly unsavedChanges: number;
  /** Telemetry events waiting in the outbox. */
  readonly queuedEvents: number;
  /** Last time the server confirmed something (document ack or drained outbox), ms since epoch. */
  readonly lastSyncTime: number | null;
  readonly lastError: string | null;
  /**
   * The server closed the connection for a reason the learner should hear (a quota of the
   * account, a slow connection), until the next successful sync. `retryAt`: when this device tries
   * again (ms since epoch); `null`: it does not until the page is reloaded. Absent: none.
   */
  readonly serverClose?: { readonly reason: ServerCloseReason; readonly retryAt: number | null } | null;
}

/** One finished or failed telemetry flush, as the sync panel lists it. */
export interface FlushRecord {
  /** When it finished, ms since epoch. */
  readonly at: number;
  readonly ok: boolean;
  /** Why it ran (`manual`, `interval`, `online`…), when known. */
  readonly reason?: string;
  readonly sent: number;
  readonly stored: number;
  readonly duplicates: number;
  readonly rejected: number;
  readonly remaining: number;
  readonly error?: string;
  readonly skipped?: string;
}

/** Another device of the same learner, seen through Yjs awareness. */
export interface PeerDevice {
  /** The Yjs awareness client id. */
  readonly clientId: number;
  /** A human label, e.g. "Chrome on Linux". */
  readonly label: string;
  /** Which screen it shows, when it says. */
  readonly screen?: string;
}

/** One signed-in learner's SDK client. */
export interface LearnerSession {
  readonly userId: string;
  /** The learner document, persisted locally and synced with the server by the SDK. */
  readonly document: LearnerDocument;
  /** Resolves once locally stored state is loaded into `document` (works offline). */
  readonly whenLoaded: Promise<void>;
  status(): SessionStatus;
  /** Called on every status change; returns the unsubscribe. */
  onStatus(listener: (status: SessionStatus) => void): () => void;
  /** Called after every telemetry flush; returns the unsubscribe. */
  onFlush(listener: (record: FlushRecord) => void): () => void;
  /** Other devices online now. */
  peers(): readonly PeerDevice[];
  onPeers(listener: (peers: readonly PeerDevice[]) => void): () => void;
  /** Tells other devices what this one is doing (awareness local state). */
  setPresence(screen: string): void;
  /** Queues a telemetry event (durably, before it resolves). */
  captureEvent(eventType: string, eventData?: JsonObject): Promise<void>;
  /** Sends queued events now. */
  flush(): Promise<FlushRecord>;
  /**
   * Called once when the server says this learner's data was erased (account deleted, here or on
   * another device); the app then forgets the data on this device too. Returns the unsubscribe.
   */
  onErased(listener: () => void): () => void;
  /**
   * Keeps `view` on this device as what the document's state *now* looks like, for the next page
   * to show while it loads ({@link StoredViewReader}); resolves `false` when it could not be tied
   * to the stored state (not all of it written yet, another tab wrote), and nothing was kept.
   */
  saveView(view: unknown): Promise<boolean>;
  destroy(): Promise<void>;
  /** Destroys the session and removes everything it kept on this device (document, outbox, copies). */
  forget(): Promise<void>;
}

/** Who is signed in; the factory knows where the server is. */
export interface SessionConfig {
  readonly userId: string;
  /** Returns a valid token; `forceRefresh` after the server refused the last one. */
  readonly getToken: (options: { forceRefresh: boolean }) => Promise<string>;
}

/** Creates sessions; the app provides the real one, tests a fake. */
export type SessionFactory = (config: SessionConfig) => LearnerSession;

/** Injection key of the {@link SessionFactory} (provided in main.ts, read by the sync store). */
export const sessionFactoryKey: InjectionKey<SessionFactory> = Symbol('prepmate.sessionFactory');

/**
 * Reads the view a session saved ({@link LearnerSession.saveView}) if the learner's stored
 * document is still exactly the state it was saved for, else `null`. Read before the session
 * opens, so that the app can show it while the document loads.
 */
export type StoredViewReader = (userId: string) => Promise<unknown>;

/** Injection key of the {@link StoredViewReader} (main.ts; without one the app shows no stored view). */
export const storedViewReaderKey: InjectionKey<StoredViewReader> = Symbol('prepmate.storedViewReader');
