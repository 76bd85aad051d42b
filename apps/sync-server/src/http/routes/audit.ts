import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { Principal, TokenService } from '../../auth/tokens.js';
import { actorOf, type AuditContext } from '../../audit/context.js';
import { ApiError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { SecurityLayer } from '../../security/index.js';
import type { AuditEntry, AuditStore, DocumentStore, StoredAuditEntry } from '../../storage/ports.js';
import { anonymiseIp } from '../../telemetry/enrich.js';
import { clientIp, principalOf, requireAuth } from '../auth.js';
import { errorBody } from '../errors.js';

/**
 * Runs the rest of the request inside the audit context, so the store decorators know who is
 * acting. The principal is read when an entry is written (auth runs later in the chain).
 */
export function auditContextMiddleware(context: AuditContext): RequestHandler {
  return (req, res, next) => {
    const from = anonymiseIp(clientIp(req));
    context.run(() => {
      const principal = res.locals['principal'] as Principal | undefined;
      return principal ? { ...actorOf(principal), from } : null;
    }, next);
  };
}

export interface UserRoutesAuditDeps {
  readonly audit: AuditStore;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly pseudonym: (userId: string) => string;
  /** Writes pending document audit entries, so erasure pseudonymises them too. */
  readonly flushPending: () => Promise<void>;
  /** Drops expired leases, whose keys may name the learner's documents (`store.leases.purgeExpired`). */
  readonly purgeLeases: () => Promise<unknown>;
  /** Seconds for `Retry-After` when the audit write fails. */
  readonly retryAfterSeconds: number;
  /** Told when a learner has been erased here (tokens issued before are refused from then on). */
  readonly noteErased?: (userId: string, at: Date) => void;
}

type JsonSender = (body: unknown) => Response;

/**
 * Runs `record` after the route answered 2xx and before the answer leaves: the route's
 * `res.json` is intercepted. When recording fails the client gets 503 and repeats the request
 * (export and erasure are both idempotent), so an erasure is never acknowledged without its
 * audit fact and without the learner's audit entries being pseudonymised.
 */
function afterSuccess(deps: UserRoutesAuditDeps, record: (req: Request, res: Response, data: Record<string, unknown>) => Promise<void>): RequestHandler {
  return (req, res, next) => {
    const send: JsonSender = res.json.bind(res);
    let intercepted = false;
    res.json = ((body: unknown) => {
      const data = typeof body === 'object' && body !== null ? (body as { data?: unknown }).data : undefined;
      if (intercepted || res.statusCode < 200 || res.statusCode >= 300 || typeof data !== 'object' || data === null) return send(body);
      intercepted = true;
      record(req, res, data as Record<string, unknown>).then(
        () => send(body),
        (error: unknown) => {
          deps.logger.error({ err: error, path: req.path }, 'audit write failed; answering 503 so the client repeats the request');
          res.status(503).setHeader('Retry-After', String(deps.retryAfterSeconds));
          send(errorBody(new ApiError('STORE_UNAVAILABLE', 'The audit trail could not be written; repeat the request', [], deps.retryAfterSeconds)));
        },
      );
      return res;
    }) as Response['json'];
    next();
  };
}

/**
 * Audit of `GET /users/me/export` (`user.export`) and `DELETE /users/me` (`user.erase`),
 * mounted before the users router. Erasure first pseudonymises every existing entry of the
 * learner, then appends the erasure fact under the pseudonym: the trail keeps that an erasure
 * happened, when and on whose authority, and nothing that identifies the learner.
 */
export function createUserAuditRouter(deps: UserRoutesAuditDeps): Router {
  const router = Router();
  const actorFields = (res: Response): Pick<AuditEntry, 'actor' | 'actorRole'> => actorOf(principalOf(res));

  router.get(
    '/users/me/export',
    afterSuccess(deps, async (req, res, data) => {
      const userId = String(data['userId']);
      const count = (key: string): number => (Array.isArray(data[key]) ? (data[key] as unknown[]).length : 0);
      await deps.audit.append([
        {
          at: deps.now(),
          ...actorFields(res),
          action: 'user.export',
          subjectUserId: userId,
          target: null,
          from: anonymiseIp(clientIp(req)),
          details: { events: count('events'), documents: count('documents'), queueItems: count('syncQueue'), batchLogs: count('batchLogs') },
        },
      ]);
    }),
  );

  router.delete(
    '/users/me',
    afterSuccess(deps, async (_req, res, data) => {
      const userId = String(data['userId']);
      const pseudonym = deps.pseudonym(userId);
      const actor = actorFields(res);
      await deps.flushPending();
      const pseudonymised = await deps.audit.pseudonymiseUser(userId, pseudonym);
      await deps.purgeLeases();
      const deleted = typeof data['deleted'] === 'object' && data['deleted'] !== null ? (data['deleted'] as Record<string, unknown>) : {};
      const at = deps.now();
      await deps.audit.append([
        {
          at,
          // A learner erasing themselves is recorded under the pseudonym too.
          actor: actor.actor === userId ? pseudonym : actor.actor,
          actorRole: actor.actorRole,
          action: 'user.erase',
          subjectUserId: pseudonym,
          target: null,
          // The address is the learner's personal data; the fact does not need it.
          from: null,
          details: { ...deleted, auditEntriesPseudonymised: pseudonymised },
        },
      ]);
      deps.noteErased?.(userId, at);
    }),
  );
  return router;
}

const querySchema = z.object({
  userId: z.string().min(1).max(200).optional(),
  since: z.iso.datetime({ offset: true, message: 'accepts an ISO-8601 date-time' }).optional(),
  action: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).max(200).optional(),
});

const historySchema = z.object({
  docName: z.string().min(1).max(300),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

function parse<T>(schema: z.ZodType<T>, query: unknown): T {
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    throw new ApiError(
      'VALIDATION_FAILED',
      'Invalid query',
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  return parsed.data;
}

const entryToJson = (e: StoredAuditEntry): Record<string, unknown> => ({ ...e, at: e.at.toISOString() });

export interface AuditRouterDeps {
  readonly tokens: TokenService;
  readonly audit: AuditStore;
  readonly documents: DocumentStore;
}

/**
 * `GET /audit?userId=&since=&action=&limit=&cursor=` (oldest first) and
 * `GET /audit/history?docName=&limit=` (the update log of one document: author, time, size of
 * each update not yet compacted). Service tokens only: the trail spans learners.
 */
export function createAuditRouter(deps: AuditRouterDeps): Router {
  const router = Router();
  const serviceOnly: RequestHandler = (_req, res, next) => {
    if (principalOf(res).role !== 'service') throw new ApiError('FORBIDDEN', 'The audit trail needs a service token');
    next();
  };

  router.get('/audit', requireAuth(deps.tokens), serviceOnly, async (req, res) => {
    const q = parse(querySchema, req.query);
    const page = await deps.audit.list({
      limit: q.limit,
      ...(q.userId !== undefined ? { userId: q.userId } : {}),
      ...(q.since !== undefined ? { since: new Date(q.since) } : {}),
      ...(q.action !== undefined ? { action: q.action } : {}),
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    res.setHeader('Cache-Control', 'private, no-store');
    res.json({ success: true, data: { entries: page.entries.map(entryToJson), nextCursor: page.nextCursor } });
  });

  router.get('/audit/history', requireAuth(deps.tokens), serviceOnly, async (req, res) => {
    const q = parse(historySchema, req.query);
    const updates = await deps.documents.listUpdates(q.docName, q.limit);
    res.setHeader('Cache-Control', 'private, no-store');
    res.json({
      success: true,
      data: { docName: q.docName, updates: updates.map((u) => ({ id: u.id, author: u.author, at: u.createdAt.toISOString(), bytes: u.update.byteLength })) },
    });
  });
  return router;
}

export interface SecurityRouterDeps {
  readonly tokens: TokenService;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Seconds for `Retry-After` when the audit write fails. */
  readonly retryAfterSeconds: number;
}

/**
 * The security layer's routers, mounted under `/api` before the telemetry and users routers:
 * the audit context (`use`, so every later route runs inside it) and the export/erasure audit.
 * Batch signatures are checked by the telemetry router itself, after auth: the signature binds
 * the learner the request acts for.
 */
export function createSecurityRoutersBefore(security: SecurityLayer, deps: SecurityRouterDeps): Router[] {
  const router = Router();
  router.use(auditContextMiddleware(security.context));
  return [
    router,
    createUserAuditRouter({
      audit: security.audit,
      logger: deps.logger,
      now: deps.now,
      pseudonym: security.pseudonym,
      flushPending: () => security.flushAudit(),
      purgeLeases: () => security.purgeExpiredLeases(),
      retryAfterSeconds: deps.retryAfterSeconds,
      noteErased: (userId, at) => security.erasures.noteErased(userId, at),
    }),
  ];
}
