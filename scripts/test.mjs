#!/usr/bin/env node
// `npm test`: typecheck every workspace, build what the end-to-end tests serve, then run the
// whole Vitest suite once. Suites that need MongoDB (MONGODB_URI) or Redis (REDIS_URL) print
// why they skip; with CI=true a skip is a failure. `scripts/test-services.mjs up` starts them.
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const extra = process.argv.slice(2);

function run(label, cmd, args) {
  process.stdout.write(`\n▶ ${label}\n`);
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (result.status !== 0) {
    process.stdout.write(`✖ ${label} failed (exit ${result.status ?? result.signal})\n`);
    process.exit(result.status ?? 1);
  }
}

if (!extra.length) {
  run('typecheck', 'npm', ['run', 'typecheck']);
  run('build', 'node', ['scripts/build-if-missing.mjs']);
}
run('tests', 'npx', ['vitest', 'run', ...extra]);
