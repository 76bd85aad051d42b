/**
 * The embedded database's tables. Times are INTEGER milliseconds since the epoch, JSON columns
 * are TEXT holding JSON. `CREATE ... IF NOT EXISTS` keeps opening an existing file idempotent.
 */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS doc_updates (
  -- AUTOINCREMENT: ids are never reused, even after the newest rows are compacted away, so an id
  -- a caller holds always means the same update.
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  doc_name TEXT NOT NULL,
  update_data BLOB NOT NULL,
  author TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS doc_updates_doc ON doc_updates (doc_name, id);

CREATE TABLE IF NOT EXISTS doc_snapshots (
  id INTEGER PRIMARY KEY,
  doc_name TEXT NOT NULL,
  version INTEGER NOT NULL,
  part INTEGER NOT NULL,
  part_count INTEGER NOT NULL,
  data BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (doc_name, version, part)
);

CREATE TABLE IF NOT EXISTS telemetry (
  id INTEGER PRIMARY KEY,
  user_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  event_data TEXT NOT NULL,
  metadata TEXT NOT NULL,
  status TEXT NOT NULL,
  retry_count INTEGER NOT NULL,
  batch_id TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS telemetry_user_event ON telemetry (user_id, event_id);
CREATE INDEX IF NOT EXISTS telemetry_user_created ON telemetry (user_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS telemetry_type_created ON telemetry (event_type, created_at DESC);
CREATE INDEX IF NOT EXISTS telemetry_created ON telemetry (created_at);
-- How many times telemetry rows were deleted (one row). \`recentEvents\` answers "only what was
-- stored since" just while this is unchanged: \`telemetry.id\` is not AUTOINCREMENT, so once the
-- newest rows are deleted their ids can be given again, below a position a reader holds.
CREATE TABLE IF NOT EXISTS telemetry_deletions (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
INSERT OR IGNORE INTO telemetry_deletions (id, n) VALUES (1, 0);

CREATE TABLE IF NOT EXISTS sync_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  item_key TEXT NOT NULL,
  item_type TEXT NOT NULL,
  item_data TEXT NOT NULL,
  status TEXT NOT NULL,
  priority INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  conflict_resolution TEXT,
  created_at INTEGER NOT NULL,
  synced_at INTEGER,
  next_attempt_at INTEGER,
  claimed_at INTEGER,
  errors TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX IF NOT EXISTS sync_queue_user_key ON sync_queue (user_id, item_key);
CREATE INDEX IF NOT EXISTS sync_queue_user_status ON sync_queue (user_id, status);
CREATE INDEX IF NOT EXISTS sync_queue_claim ON sync_queue (status, priority DESC, created_at, id);

CREATE TABLE IF NOT EXISTS batch_logs (
  id INTEGER PRIMARY KEY,
  batch_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  item_count INTEGER NOT NULL,
  success_count INTEGER NOT NULL,
  failure_count INTEGER NOT NULL,
  conflict_count INTEGER NOT NULL,
  duplicate_count INTEGER NOT NULL,
  start_time INTEGER NOT NULL,
  end_time INTEGER NOT NULL,
  duration INTEGER NOT NULL,
  status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_logs_user_start ON batch_logs (user_id, start_time DESC);
CREATE INDEX IF NOT EXISTS batch_logs_start ON batch_logs (start_time DESC);

-- Append-only audit trail. The only UPDATE ever run on it is erasure's pseudonymisation.
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  actor_role TEXT NOT NULL,
  action TEXT NOT NULL,
  subject_user_id TEXT,
  target TEXT,
  from_address TEXT,
  details TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at, id);
CREATE INDEX IF NOT EXISTS audit_log_subject ON audit_log (subject_user_id, at, id);
CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log (actor);

CREATE TABLE IF NOT EXISTS leases (
  key TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
`;
