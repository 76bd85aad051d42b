/**
 * SQL used in more than one place, defined once: by the store's connection and by the
 * appender worker (which receives these strings through `workerData`), and by both the
 * request paths and restore. Statements used in one place only live next to their use.
 */

/**
 * Pragmas of every connection to the file.
 *
 * `synchronous = FULL`, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss,
 * and the update log and telemetry acknowledge durability to clients ("saved on server",
 * exactly-once ids). The cost is one fsync per commit, which group commit (one append per
 * flush window) keeps to ~20 a second per busy process.
 */
export const CONNECTION_PRAGMAS: readonly string[] = ['journal_mode = WAL', 'synchronous = FULL'];

/** The store's main connection also enforces foreign keys (it is the one that creates the schema). */
export const MAIN_PRAGMAS: readonly string[] = [...CONNECTION_PRAGMAS, 'foreign_keys = ON'];

/**
 * The appender worker's connection. Appends touch the table's last page and a few index pages;
 * SQLite's default 2 MiB page cache per connection would only duplicate what the OS already
 * caches (memory per document matters).
 */
export const APPENDER_PRAGMAS: readonly string[] = [...CONNECTION_PRAGMAS];

/** One update-log entry: (doc_name, update_data, author, created_at). */
export const INSERT_UPDATE = 'INSERT INTO doc_updates (doc_name, update_data, author, created_at) VALUES (?, ?, ?, ?)';

/** One telemetry event; the unique (user_id, event_id) index makes a repeat a no-op. */
export const INSERT_EVENT = `INSERT INTO telemetry (user_id, event_id, event_type, event_data, metadata, status, retry_count, batch_id, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, event_id) DO NOTHING`;

export const INSERT_BATCH_LOG = `INSERT INTO batch_logs (batch_id, user_id, kind, item_count, success_count, failure_count, conflict_count, duplicate_count, start_time, end_time, duration, status)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export const INSERT_AUDIT = 'INSERT INTO audit_log (at, actor, actor_role, action, subject_user_id, target, from_address, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
