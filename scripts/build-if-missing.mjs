#!/usr/bin/env node
// `npm start` runs this first: build each workspace whose output is missing or older than
// its sources, so a fresh clone needs only `npm install && npm start`.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const workspaces = [
  { dir: 'packages/crdt-model', output: 'dist/index.js', sources: ['src', 'package.json', 'tsconfig.json'] },
  { dir: 'packages/sync-client', output: 'dist/index.js', sources: ['src', 'package.json', 'tsconfig.json'] },
  { dir: 'apps/sync-server', output: 'dist/main.js', sources: ['src', 'package.json', 'tsconfig.json'] },
  { dir: 'apps/client', output: 'dist/index.html', sources: ['src', 'public', 'index.html', 'vite.config.ts', 'package.json'] },
];

function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

let stale = false;
for (const ws of workspaces) {
  const base = join(root, ws.dir);
  if (!existsSync(base)) continue;
  const output = join(base, ws.output);
  const builtAt = existsSync(output) ? statSync(output).mtimeMs : 0;
  const changedAt = Math.max(...ws.sources.map((s) => newest(join(base, s))));
  if (builtAt === 0 || changedAt > builtAt) {
    stale = true;
    process.stdout.write(`${ws.dir}: ${builtAt === 0 ? 'not built' : 'sources changed'}\n`);
  }
}
if (stale) {
  process.stdout.write('Building (npm run build)…\n');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}
