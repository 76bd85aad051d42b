import type { AuditEntry, BatchLog, StoreRecord, SyncQueueItem, TelemetryEventRecord } from '../storage/ports.js';

/**
 * The backup file: JSON lines, one record per line, each with a `type`.
 *
 *     {"type":"header","format":"prepmate-backup","version":1,"store":"sqlite","createdAt":"…"}
 *     {"type":"snapshot","docName":"ada","state":"<base64 Yjs update>","createdAt":"…"}
 *     {"type":"update","docName":"ada","update":"<base64>","author":"ada","createdAt":"…"}
 *     {"type":"event","event":{…TelemetryEventRecord, dates as ISO-8601…}}
 *     {"type":"queueItem","item":{…}}   {"type":"batchLog","log":{…}}   {"type":"audit","entry":{…}}
 *     {"type":"end","counts":{"snapshots":1,"updates":3,…}}
 *
 * Binary values are base64, times ISO-8601. Encrypted event fields stay encrypted (a backup never
 * holds more plaintext than the database). The `end` line lets a restore tell a complete file
 * from a truncated one.
 */
export const BACKUP_FORMAT = 'prepmate-backup';
export const BACKUP_VERSION = 1;

export interface BackupHeader {
  readonly type: 'header';
  readonly format: typeof BACKUP_FORMAT;
  readonly version: number;
  readonly store: string;
  readonly createdAt: string;
}

export interface BackupTrailer {
  readonly type: 'end';
  readonly counts: Record<string, number>;
}

export type BackupLine = BackupHeader | BackupTrailer | StoreRecord;

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const bytesOf = (text: unknown): Uint8Array => {
  if (typeof text !== 'string') throw new BackupFormatError('expected base64 text');
  const buf = Buffer.from(text, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
};
const dateOf = (v: unknown): Date => {
  const d = typeof v === 'string' ? new Date(v) : null;
  if (d === null || Number.isNaN(d.getTime())) throw new BackupFormatError(`expected an ISO date, got ${JSON.stringify(v)}`);
  return d;
};
const optionalDate = (v: unknown): Date | null => (v === null || v === undefined ? null : dateOf(v));

export class BackupFormatError extends Error {
  override readonly name = 'BackupFormatError';
}

/** One line of the file (no trailing newline). */
export function encodeLine(line: BackupLine): string {
  switch (line.type) {
    case 'snapshot':
      return JSON.stringify({ type: line.type, docName: line.docName, state: b64(line.state), createdAt: line.createdAt });
    case 'update':
      return JSON.stringify({ type: line.type, docName: line.docName, update: b64(line.update), author: line.author, createdAt: line.createdAt });
    default:
      // Dates serialise as ISO strings through Date#toJSON.
      return JSON.stringify(line);
  }
}

type Json = Record<string, unknown>;
const obj = (v: unknown, what: string): Json => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BackupFormatError(`${what} is not an object`);
  return v as Json;
};

function reviveEvent(raw: Json): TelemetryEventRecord {
  const metadata = obj(raw['metadata'], 'event.metadata');
  const m: Json = { ...metadata, clientTimestamp: optionalDate(metadata['clientTimestamp']), serverTimestamp: dateOf(metadata['serverTimestamp']) };
  for (const key of ['sentAt', 'correctedTimestamp'] as const) if (key in metadata) m[key] = optionalDate(metadata[key]);
  return { ...(raw as unknown as TelemetryEventRecord), metadata: m as unknown as TelemetryEventRecord['metadata'], createdAt: dateOf(raw['createdAt']), updatedAt: dateOf(raw['updatedAt']) };
}

function reviveQueueItem(raw: Json): SyncQueueItem {
  const errors = Array.isArray(raw['errors']) ? (raw['errors'] as Json[]).map((e) => ({ at: dateOf(e['at']), message: String(e['message']) })) : [];
  return {
    ...(raw as unknown as SyncQueueItem),
    createdAt: dateOf(raw['createdAt']),
    syncedAt: optionalDate(raw['syncedAt']),
    nextAttemptAt: optionalDate(raw['nextAttemptAt']),
    errors,
  };
}

/** Parses one line; throws BackupFormatError for anything this version did not write. */
export function decodeLine(text: string): BackupLine {
  let raw: Json;
  try {
    raw = obj(JSON.parse(text) as unknown, 'line');
  } catch (error) {
    if (error instanceof BackupFormatError) throw error;
    throw new BackupFormatError('a line is not JSON');
  }
  switch (raw['type']) {
    case 'header':
      if (raw['format'] !== BACKUP_FORMAT) throw new BackupFormatError('not a PrepMate backup (header.format)');
      if (raw['version'] !== BACKUP_VERSION) throw new BackupFormatError(`backup version ${String(raw['version'])} is not supported (this server reads ${BACKUP_VERSION})`);
      return raw as unknown as BackupHeader;
    case 'end':
      return { type: 'end', counts: obj(raw['counts'], 'end.counts') as Record<string, number> };
    case 'snapshot':
      return { type: 'snapshot', docName: String(raw['docName']), state: bytesOf(raw['state']), createdAt: dateOf(raw['createdAt']) };
    case 'update':
      return { type: 'update', docName: String(raw['docName']), update: bytesOf(raw['update']), author: String(raw['author']), createdAt: dateOf(raw['createdAt']) };
    case 'event':
      return { type: 'event', event: reviveEvent(obj(raw['event'], 'event')) };
    case 'queueItem':
      return { type: 'queueItem', item: reviveQueueItem(obj(raw['item'], 'item')) };
    case 'batchLog': {
      const log = obj(raw['log'], 'log');
      return { type: 'batchLog', log: { ...(log as unknown as BatchLog), startTime: dateOf(log['startTime']), endTime: dateOf(log['endTime']) } };
    }
    case 'audit': {
      const entry = obj(raw['entry'], 'entry');
      return { type: 'audit', entry: { ...(entry as unknown as AuditEntry), at: dateOf(entry['at']) } };
    }
    default:
      throw new BackupFormatError(`unknown line type ${JSON.stringify(raw['type'])}`);
  }
}
