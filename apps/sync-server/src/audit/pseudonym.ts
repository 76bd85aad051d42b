import { createHmac } from 'node:crypto';

/**
 * The pseudonym that replaces an erased learner's id in the audit trail: a keyed hash, so the
 * trail still shows that one person's entries belong together and an operator holding the
 * server secret can answer "was X erased?", while nobody without it can recover the id.
 */
export function createPseudonymiser(secret: string): (userId: string) => string {
  const key = createHmac('sha256', secret).update('prepmate/audit-pseudonym/v1').digest();
  return (userId) => `erased:${createHmac('sha256', key).update(userId, 'utf8').digest('hex').slice(0, 32)}`;
}
