/**
 * Who a request acts for. A learner acts for itself; a service token may name any learner. The
 * name must be unambiguous: an empty `userId` is not "myself" (it would hide which learner a
 * service meant), and a query and a body that name different learners are refused rather than
 * one silently winning.
 */
import { userIdSchema } from '@prepmate/crdt-model';
import { ApiError } from '../errors.js';
import { asUserId, type UserId } from '../ids.js';
import type { Principal } from './claims.js';

const NOT_A_USER_ID = 'expected 1–128 characters of [A-Za-z0-9_-]';

function invalid(path: string, message: string): ApiError {
  return new ApiError('VALIDATION_FAILED', `${path} is not valid`, [{ path, message }]);
}

/**
 * The learner a request names (`?userId=` and/or the body's `userId`), undefined when it names
 * none. Throws `VALIDATION_FAILED` for an empty, repeated or malformed value and for a query and
 * a body that disagree.
 */
export function requestedUserId(query: unknown, body: unknown): string | undefined {
  const fromQuery = query === undefined ? undefined : parseRequested(query, 'query.userId');
  const fromBody = body === undefined ? undefined : parseRequested(body, 'userId');
  if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
    throw new ApiError('VALIDATION_FAILED', 'The query and the body name different learners', [
      { path: 'userId', message: 'must equal query.userId when both are given' },
    ]);
  }
  return fromQuery ?? fromBody;
}

function parseRequested(value: unknown, path: string): string {
  if (Array.isArray(value)) throw invalid(path, 'must be given once');
  if (value === '' || value === null) throw invalid(path, `must not be empty: omit it to act for yourself (${NOT_A_USER_ID})`);
  const parsed = userIdSchema.safeParse(value);
  if (!parsed.success) throw invalid(path, NOT_A_USER_ID);
  return parsed.data;
}

/** The learner whose data a request addresses: self when none is named, any learner for a service. */
export function actingUserId(principal: Principal, requested: unknown): UserId {
  if (requested === undefined) return principal.userId;
  const userId = parseRequested(requested, 'userId');
  if (userId !== principal.userId && principal.role !== 'service') {
    throw new ApiError('FORBIDDEN', 'Only a service token may act for another learner');
  }
  return asUserId(userId);
}
