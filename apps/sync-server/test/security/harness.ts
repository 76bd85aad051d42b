import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import mongoose from 'mongoose';
import { describe } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer, type ServerOverrides } from '../../src/server.js';
import { createStore } from '../../src/storage/index.js';
import type { Store } from '../../src/storage/ports.js';
import { describeWithService, mongoUriForTests, tempSqliteDir } from '../helpers/stores.js';

export type Kind = 'sqlite' | 'mongodb';

export const JWT_SECRET = 'security-suite-secret-that-is-long-enough-42';
export const newKey = (kid: string): string => `${kid}:${randomBytes(32).toString('base64')}`;

/**
 * One database for a test: a fresh SQLite directory or a fresh MongoDB database. Servers and
 * raw readers open it by its config; `wipe` empties it the way an operator loses a database.
 */
export interface TestDatabase {
  readonly kind: Kind;
  /** Environment that selects it (`DATA_DIR` or `MONGODB_URI`). */
  readonly env: Record<string, string>;
  /** Every table/collection, listed from the database itself, with every row as text (binary as latin1). */
  dump(): Promise<Map<string, string[]>>;
  wipe(): Promise<void>;
  dispose(): Promise<void>;
}

async function mongoConnection(uri: string): Promise<mongoose.Connection> {
  return mongoose.createConnection(uri, { serverSelectionTimeoutMS: 2000 }).asPromise();
}

/** Text of a row: JSON with binary values spelled out, so a userId inside a Yjs update is found too. */
function rowText(row: unknown): string {
  return JSON.stringify(row, (_key, value: unknown) => {
    if (value instanceof mongoose.mongo.Binary) return Buffer.from(value.value()).toString('latin1');
    if (Buffer.isBuffer(value)) return value.toString('latin1');
    if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
      return Buffer.from((value as { data: number[] }).data).toString('latin1');
    }
    return value;
  });
}

export async function openDatabase(kind: Kind): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const tmp = await tempSqliteDir();
    const dir = join(tmp.dir, 'data');
    const file = join(dir, 'prepmate.sqlite');
    return {
      kind,
      env: { DATA_DIR: dir },
      async dump() {
        const out = new Map<string, string[]>();
        if (!existsSync(file)) return out;
        const db = new Database(file, { readonly: true });
        try {
          const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[];
          for (const { name } of tables) out.set(name, (db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).all() as unknown[]).map(rowText));
        } finally {
          db.close();
        }
        return out;
      },
      async wipe() {
        await tmp.remove();
      },
      dispose: () => tmp.remove(),
    };
  }
  const uri = mongoUriForTests();
  if (uri === null) throw new Error('MONGODB_URI is not set');
  const drop = async (): Promise<void> => {
    const conn = await mongoConnection(uri);
    try {
      await conn.dropDatabase();
    } finally {
      await conn.close();
    }
  };
  return {
    kind,
    env: { MONGODB_URI: uri },
    async dump() {
      const out = new Map<string, string[]>();
      const conn = await mongoConnection(uri);
      try {
        const db = conn.db!;
        for (const c of await db.listCollections({}, { nameOnly: true }).toArray()) {
          out.set(c.name, (await db.collection(c.name).find({}).toArray()).map(rowText));
        }
      } finally {
        await conn.close();
      }
      return out;
    },
    wipe: drop,
    dispose: drop,
  };
}

/** SQLite always; MongoDB (FerretDB) when MONGODB_URI is set — skipped with a reason otherwise, a failure with CI=true. */
export function describeEachKind(title: string, define: (kind: Kind) => void): void {
  describe(`${title} [sqlite]`, () => define('sqlite'));
  describeWithService(
    `${title} [mongodb]`,
    { env: 'MONGODB_URI', value: mongoUriForTests() === null ? null : 'mongodb', hint: 'Start FerretDB with `node scripts/test-services.mjs up` and export MONGODB_URI=mongodb://127.0.0.1:27217/prepmate.' },
    () => define('mongodb'),
  );
}

export function testConfig(db: TestDatabase, env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    JWT_SECRET,
    AUTH_MODE: 'dev',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    UPDATE_FLUSH_MS: '10',
    ...db.env,
    ...env,
  });
}

/** The store a server of this config would open (raw: no decorators). */
export const openRawStore = (db: TestDatabase): Promise<Store> => createStore(testConfig(db));

export interface Response<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly json: T;
}

export interface Client {
  readonly server: RunningServer;
  token(userId: string, role?: 'learner' | 'service'): Promise<string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests navigate response bodies freely
  request<T = any>(method: string, path: string, options?: { token?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string>; gzip?: boolean }): Promise<Response<T>>;
  stop(): Promise<void>;
}

/** The real server (`startServer`) on port 0 over the test database. */
export async function start(db: TestDatabase, env: Record<string, string> = {}, options: ServerOverrides = {}): Promise<Client> {
  const config = testConfig(db, env);
  const server = await startServer(config, { logger: createLogger(config.LOG_LEVEL), auditWindowMs: 20, ...options });
  return {
    server,
    token: (userId, role = 'learner') => server.tokens.sign(userId, { role }),
    async request(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      if (o.token) headers['authorization'] = `Bearer ${o.token}`;
      let body: string | Buffer | undefined = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
      if (body !== undefined) {
        headers['content-type'] ??= 'application/json';
        if (o.gzip) {
          body = gzipSync(body);
          headers['content-encoding'] = 'gzip';
        }
      }
      const res = await fetch(server.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: res.status, headers: res.headers, json: json as never };
    },
    stop: () => server.stop(),
  };
}

/** Polls until `fn` returns a truthy value; no sleeps. */
export async function until<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
