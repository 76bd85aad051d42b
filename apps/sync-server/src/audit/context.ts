import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditActorRole } from '../storage/ports.js';

/** Who is acting in the current request, as the audit trail records it. */
export interface AuditActor {
  /** userId, or `service:<sub>` for a service token. */
  readonly actor: string;
  readonly actorRole: AuditActorRole;
  /** Anonymised client address. */
  readonly from: string | null;
}

/**
 * Carries the acting principal from the HTTP layer down to the store decorators without
 * threading it through the use-cases (which know nothing about auditing). One instance per
 * server, so two servers in one process never see each other's requests.
 */
export interface AuditContext {
  /** Runs `fn` with `resolve` as the actor source; resolved lazily because auth runs later in the chain. */
  run<T>(resolve: () => AuditActor | null, fn: () => T): T;
  /** The actor of the request being served, or null outside one (jobs, start-up). */
  current(): AuditActor | null;
}

export function createAuditContext(): AuditContext {
  const storage = new AsyncLocalStorage<() => AuditActor | null>();
  return {
    run: (resolve, fn) => storage.run(resolve, fn),
    current: () => storage.getStore()?.() ?? null,
  };
}

/** The actor name of a token principal. */
export function actorOf(principal: { readonly userId: string; readonly role: 'learner' | 'service' }): Pick<AuditActor, 'actor' | 'actorRole'> {
  return principal.role === 'service' ? { actor: `service:${principal.userId}`, actorRole: 'service' } : { actor: principal.userId, actorRole: 'learner' };
}

/** The server acting on its own (jobs, commands). */
export const systemActor = (name: string): AuditActor => ({ actor: `service:${name}`, actorRole: 'system', from: null });
