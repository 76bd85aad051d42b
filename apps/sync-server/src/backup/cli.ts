import { createReadStream, createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { config as loadDotenv } from 'dotenv';
import { systemActor } from '../audit/context.js';
import { ConfigError, loadConfig } from '../config.js';
import { pino } from 'pino';
import { fieldCipherOf } from '../security/index.js';
import { createStore, openMongoBackupRepository, StoreUnavailableError } from '../storage/index.js';
import { NoBackupError, backupToRepository, restoreFromRepository } from './repository.js';
import { backupStore, restoreStore, RestoreRefusedError } from './backup.js';
import { BackupFormatError } from './format.js';
import { rotateKeys } from './rotate.js';

const usage = `Usage:
  npm run backup -- --out FILE          write every record as JSON lines (FILE.partial until complete)
  npm run backup -- --mongo             copy every record into MONGODB_BACKUP_URI (keeps the 7 newest copies)
  npm run backup -- --mongo --list      list the copies in MONGODB_BACKUP_URI
  npm run restore -- --in FILE [--force] restore into an empty store (--force: into a non-empty one)
  npm run restore -- --mongo [--run ID] [--force]
                                        restore the newest (or the named) copy from MONGODB_BACKUP_URI
  npm run rotate-keys                   re-encrypt stored events under the first FIELD_ENCRYPTION_KEY
The store is the server's: MONGODB_URI, else SQLite in DATA_DIR (.env is read).`;

/** `npm run backup|restore|rotate-keys`: same `.env` and config validation as the server. */
async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({ args: [...rest], options: {
      out: { type: 'string' },
      in: { type: 'string' },
      mongo: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      run: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    }, strict: true });
  if (values.help || command === undefined) {
    process.stdout.write(`${usage}\n`);
    return values.help ? 0 : 2;
  }
  loadDotenv({ quiet: true });
  const config = loadConfig(process.env);
  // Logs to stderr: stdout carries the command's own summary line.
  const logger = pino({ level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, base: { service: 'prepmate-ops', command } }, pino.destination(2));
  if (values.mongo && !config.MONGODB_BACKUP_URI) throw new ConfigError('Invalid configuration:\n  MONGODB_BACKUP_URI: required by --mongo (a mongodb:// URI of the backup database)');
  if (values.mongo && values.list && command === 'backup') {
    const repo = await openMongoBackupRepository(config.MONGODB_BACKUP_URI ?? '');
    try {
      for (const run of await repo.list()) process.stdout.write(`${JSON.stringify(run)}\n`);
      return 0;
    } finally {
      await repo.close();
    }
  }
  const store = await createStore(config, logger);
  try {
    switch (command) {
      case 'backup': {
        if (values.mongo) {
          const repo = await openMongoBackupRepository(config.MONGODB_BACKUP_URI ?? '');
          try {
            const result = await backupToRepository(store, repo);
            process.stdout.write(`${JSON.stringify({ backup: 'MONGODB_BACKUP_URI', id: result.id, store: store.kind, counts: result.counts, removed: result.removed })}\n`);
          } finally {
            await repo.close();
          }
          return 0;
        }
        if (!values.out) throw new UsageError('--out FILE is required');
        const partial = `${values.out}.partial`;
        const out = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
        await once(out, 'open');
        const counts = await backupStore(store, async (line) => {
          if (!out.write(`${line}\n`)) await once(out, 'drain');
        });
        out.end();
        await once(out, 'finish');
        // Only a complete file gets the name asked for.
        await rename(partial, values.out);
        process.stdout.write(`${JSON.stringify({ backup: values.out, store: store.kind, counts })}\n`);
        return 0;
      }
      case 'restore': {
        if (values.mongo) {
          const repo = await openMongoBackupRepository(config.MONGODB_BACKUP_URI ?? '');
          try {
            const { run, counts } = await restoreFromRepository(repo, store, { force: values.force, ...(values.run ? { id: values.run } : {}) });
            await store.audit.append([{ at: new Date(), ...systemActor('restore'), action: 'store.restore', subjectUserId: null, target: null, details: { ...counts, force: values.force, backup: run.id } }]);
            process.stdout.write(`${JSON.stringify({ restored: run.id, from: 'MONGODB_BACKUP_URI', store: store.kind, counts })}\n`);
          } finally {
            await repo.close();
          }
          return 0;
        }
        if (!values.in) throw new UsageError('--in FILE (or --mongo) is required');
        const counts = await restoreStore(store, readLines(values.in), { force: values.force });
        await store.audit.append([{ at: new Date(), ...systemActor('restore'), action: 'store.restore', subjectUserId: null, target: null, details: { ...counts, force: values.force } }]);
        process.stdout.write(`${JSON.stringify({ restored: values.in, store: store.kind, counts })}\n`);
        return 0;
      }
      case 'rotate-keys': {
        const fields = fieldCipherOf(config);
        if (fields === null) throw new ConfigError('Invalid configuration:\n  FIELD_ENCRYPTION_KEY: required by rotate-keys');
        const report = await rotateKeys(store, fields.cipher);
        process.stdout.write(`${JSON.stringify(report)}\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } finally {
    await store.close();
  }
}

class UsageError extends Error {}

/**
 * Lines of a file, opened only when the first line is asked for: a readline interface made
 * earlier would emit its lines (and `close`) while restore still checks the store, and its
 * iterator would then wait forever.
 */
async function* readLines(file: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  try {
    for await (const line of rl) yield line;
  } finally {
    rl.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) process.stderr.write(`${error.message}\n${usage}\n`);
    else if (error instanceof ConfigError || error instanceof RestoreRefusedError || error instanceof BackupFormatError || error instanceof NoBackupError || error instanceof StoreUnavailableError) {
      process.stderr.write(`${error.message}\n`);
    }
    else process.stderr.write(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
