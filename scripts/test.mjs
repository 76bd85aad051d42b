#!/usr/bin/env node
// `npm test`: typecheck every workspace, check the sync server's layering (dependency-cruiser,
// rules in .dependency-cruiser.cjs), build what the end-to-end tests serve, then run the whole
// Vitest suite once. Suites that need MongoDB (MONGODB_URI), Redis (REDIS_URL) or a Redis
// Cluster (REDIS_CLUSTER_NODES) print why they skip; with CI=true a skip is a failure. `scripts/test-services.mjs up` starts them.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

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
  run('links', 'node', ['scripts/check-links.mjs']);
  run('typecheck', 'npm', ['run', 'typecheck']);
  run('layering', 'npx', ['depcruise', '--config', '.dependency-cruiser.cjs', 'apps/sync-server/src', 'apps/sync-server/bench', 'apps/sync-server/test']);
  run('build', 'node', ['scripts/build-if-missing.mjs']);
}
const results = join(root, '.tmp', 'vitest-results.json');
rmSync(results, { force: true });
process.stdout.write('\n▶ tests\n');
const tests = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...extra], {
  cwd: root,
  stdio: 'inherit',
  env: process.env,
});
// One plain closing line that any CI reads the same way, whatever the runner prints above it.
if (existsSync(results)) {
  const r = JSON.parse(readFileSync(results, 'utf8'));
  process.stdout.write(`\ntests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped\n`);
}
process.exit(tests.status ?? 1);
