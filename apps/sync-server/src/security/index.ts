import type { RequestHandler } from 'express';
import { Counter, type Registry } from 'prom-client';
import { createAuditContext, type AuditContext } from '../audit/context.js';
import { createAuditBuffer } from '../audit/audit-buffer.js';
import { createPseudonymiser } from '../audit/pseudonym.js';
import { auditingTelemetryStore } from '../audit/telemetry.js';
import { ConfigError, type Config } from '../config.js';
import { StoreUnavailableError } from '../storage/errors.js';
import type { Logger } from '../logger.js';
import type { AuditEntry, AuditStore, DocumentStore, Store } from '../storage/ports.js';
import { verifyBatchSignature, type LearnerOf } from './batch-signature.js';
import { encryptingTelemetryStore } from './encrypted-telemetry.js';
import { envelopeEscapingTelemetryStore } from './escaped-telemetry.js';
import { createFieldCipher, type FieldCipher } from './field-cipher.js';
import { parseEncryptedFields, parseFieldKeys, parseSigningKeys, type FieldKeyring } from '../key-formats.js';
import { checkStoredCiphertext } from './startup-check.js';
import { createErasureRegistry, type ErasureRegistry } from './erasures.js';

export { signBatch, verifyBatchSignature, keepRawBodyForSignature, SIGNATURE_TOLERANCE_SECONDS, type LearnerOf } from './batch-signature.js';
export { createFieldCipher, isEncryptedValue, findEncryptedValues, FieldDecryptionError, type FieldCipher, type EncryptedValue } from './field-cipher.js';
export { parseFieldKeys, parseEncryptedFields, parseSigningKeys, KeyFormatError, type FieldKeyring, type FieldKey } from '../key-formats.js';

/** The configuration of field encryption and batch signatures. */
export type SecurityConfig = Pick<Config, 'ENCRYPTED_FIELDS' | 'FIELD_ENCRYPTION_KEY' | 'BATCH_SIGNING_KEYS' | 'BATCH_SIGNING_REQUIRED'>;

export interface SecurityLayerDeps {
  readonly config: SecurityConfig;
  readonly logger: Logger;
  /** The store as the adapter made it. */
  readonly store: Store;
  /** Keys the audit pseudonyms (the server's JWT secret). */
  readonly pseudonymSecret: string;
  readonly registry: Registry;
  readonly now?: () => Date;
  /** Write window of buffered audit entries (`document.update`, `event.ingest`), ms (tests shorten it). Default 1000. */
  readonly auditWindowMs?: number;
}

export interface SecurityLayer {
  /** The store every service uses: audited documents and events, encrypted event fields. */
  readonly store: Store;
  readonly context: AuditContext;
  /** null when FIELD_ENCRYPTION_KEY is unset. */
  readonly cipher: FieldCipher | null;
  /**
   * Middleware for every ingestion route, after auth: refuses a missing (when required), stale or
   * wrong signature; `learnerOf` names the learner the request acts for, which the signature binds.
   */
  verifyBatchSignature(learnerOf: LearnerOf): RequestHandler;
  /** The audit trail itself (its own writes are not audited). */
  readonly audit: AuditStore;
  /** The document store under the audit decorator (the audit history reads it). */
  readonly documents: DocumentStore;
  /** The keyed pseudonym of a learner (erasure). */
  pseudonym(userId: string): string;
  /** When learners were erased (pseudonymous), for refusing tokens issued before. */
  readonly erasures: ErasureRegistry;
  /** Writes buffered audit entries now, so erasure pseudonymises them too. */
  flushAudit(): Promise<void>;
  /** Drops expired leases, whose keys may name an erased learner's documents. */
  purgeExpiredLeases(): Promise<unknown>;
  /** Writes buffered audit entries and stops their timer; call before closing the store. */
  stop(): Promise<void>;
}

/** The keyring and cipher of a configuration (also used by `rotate-keys`). */
export function fieldCipherOf(config: Pick<Config, 'ENCRYPTED_FIELDS' | 'FIELD_ENCRYPTION_KEY'>): { keyring: FieldKeyring; cipher: FieldCipher } | null {
  if (config.FIELD_ENCRYPTION_KEY === undefined) return null;
  const keyring = parseFieldKeys(config.FIELD_ENCRYPTION_KEY);
  return { keyring, cipher: createFieldCipher(keyring, parseEncryptedFields(config.ENCRYPTED_FIELDS ?? '')) };
}

/**
 * Encryption, audit and signed batches as decorators and middleware around the existing services: nothing inside telemetry/,
 * docs/ or the routers knows about it. Refuses to start (ConfigError) when stored ciphertext
 * names a key the configuration lacks.
 */
export async function createSecurityLayer(deps: SecurityLayerDeps): Promise<SecurityLayer> {
  const { config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const base = deps.store;

  const fields = fieldCipherOf(config);
  let problem: string | null = null;
  try {
    problem = await checkStoredCiphertext(base.records, fields?.keyring ?? null);
  } catch (error) {
    // A store that is down at start keeps the server's existing behaviour (it starts and reports
    // `unhealthy`); the key check is then skipped, and a wrong key shows as failing reads.
    if (!(error instanceof StoreUnavailableError)) throw error;
    logger.warn({ err: error }, 'store unavailable at start: stored ciphertext not checked against FIELD_ENCRYPTION_KEY');
  }
  if (problem !== null) throw new ConfigError(`Invalid configuration:\n  ${problem}`);
  if (fields !== null) logger.info({ fields: fields.cipher.paths, kid: fields.keyring.current.kid }, 'field encryption on');

  const auditFailures = new Counter({
    name: 'prepmate_audit_write_failures_total',
    help: 'Audit entries that could not be written after the data change they record',
    labelNames: ['action'],
    registers: [deps.registry],
  });
  const signatureRejections = new Counter({
    name: 'prepmate_batch_signature_rejections_total',
    help: 'Telemetry batches refused for a missing, stale or wrong signature',
    labelNames: ['reason'],
    registers: [deps.registry],
  });
  const onAuditError = (error: unknown, entries: readonly AuditEntry[]): void => {
    for (const e of entries) auditFailures.inc({ action: e.action });
    logger.error({ err: error, entries: entries.length }, 'audit write failed after the data was stored');
  };

  const context = createAuditContext();
  const auditBuffer = createAuditBuffer(base.documents, {
    audit: base.audit,
    onError: onAuditError,
    ...(deps.auditWindowMs !== undefined ? { windowMs: deps.auditWindowMs } : {}),
  });
  let telemetry = auditingTelemetryStore(base.telemetry, { write: (entries) => auditBuffer.enqueue(entries), context, now });
  if (fields !== null) telemetry = encryptingTelemetryStore(telemetry, fields.cipher);
  // Outermost: learner data never reaches the cipher or the database with the envelope key.
  telemetry = envelopeEscapingTelemetryStore(telemetry);

  // A plain object, not a spread: adapters may be class instances whose methods a spread drops.
  const store: Store = {
    kind: base.kind,
    documents: auditBuffer.documents,
    telemetry,
    syncQueue: base.syncQueue,
    batchLogs: base.batchLogs,
    leases: base.leases,
    audit: base.audit,
    records: base.records,
    ping: () => base.ping(),
    close: () => base.close(),
  };

  const signingKeys = parseSigningKeys(config.BATCH_SIGNING_KEYS ?? '');
  const pseudonym = createPseudonymiser(deps.pseudonymSecret);

  return {
    store,
    context,
    cipher: fields?.cipher ?? null,
    verifyBatchSignature: (learnerOf) =>
      verifyBatchSignature({ keys: signingKeys, required: config.BATCH_SIGNING_REQUIRED, now, onReject: (reason) => signatureRejections.inc({ reason }) }, learnerOf),
    audit: base.audit,
    documents: base.documents,
    pseudonym,
    erasures: createErasureRegistry({ audit: base.audit, pseudonym, now: () => now().getTime() }),
    flushAudit: () => auditBuffer.flush(),
    purgeExpiredLeases: () => base.leases.purgeExpired(),
    stop: () => auditBuffer.stop(),
  };
}
