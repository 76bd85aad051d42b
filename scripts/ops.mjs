#!/usr/bin/env node
// `npm run backup|restore|rotate-keys|mint-token`: runs apps/sync-server/src/backup/cli.ts (or
// src/auth/mint-cli.ts) from source when tsx is installed (a checkout: always the current code),
// else the built dist/ file (a production install without dev dependencies, built by
// `npm run build` / `npm start`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const server = join(root, 'apps', 'sync-server');
// tsx's loader by absolute URL, so the command works from any working directory.
let tsx = null;
try {
  tsx = import.meta.resolve('tsx');
} catch {
  tsx = null;
}
const hasTsx = tsx !== null;
let args = process.argv.slice(2);
// `mint-token` has its own entry point (src/auth/mint-cli.ts); every other command is backup/cli.ts.
const cli = args[0] === 'mint-token' ? 'auth/mint-cli' : 'backup/cli';
if (args[0] === 'mint-token') args = args.slice(1);
const dist = join(server, 'dist', `${cli}.js`);
const command = hasTsx
  ? ['--conditions=@prepmate/source', '--import', tsx, join(server, 'src', `${cli}.ts`), ...args]
  : [dist, ...args];
if (!hasTsx && !existsSync(dist)) {
  process.stderr.write('apps/sync-server is not built: run `npm run build` first\n');
  process.exit(1);
}
const result = spawnSync(process.execPath, command, { stdio: 'inherit' });
process.exit(result.status ?? 1);
