// Layering of the sync server, as docs/architecture.md draws it. `npm test` runs
// `depcruise --config .dependency-cruiser.cjs apps/sync-server` before the tests.
//
//   entry points   src/main.ts, src/server.ts, src/http/, src/ws/, src/backup/cli.ts, bench/
//   domain         src/docs/, src/telemetry/, src/plan/, src/audit/, src/security/, src/jobs/, src/auth/, src/backup/
//   adapters/ports src/storage/, src/cache/, src/fanout/, src/redis/
//   kernel         src/protocol/, src/config.ts, src/errors.ts, src/logger.ts, src/metrics.ts, src/key-formats.ts, src/ids.ts
//
// Each layer imports only layers below it; nothing imports back up, and there is no cycle.
const SRC = '^apps/sync-server/src/';
const ENTRY = `${SRC}(main\\.ts|server\\.ts|http/|ws/|backup/cli\\.ts)|^apps/sync-server/bench/`;
const DOMAIN = `${SRC}(docs|telemetry|plan|audit|security|jobs|auth|backup)/`;
const ADAPTERS = `${SRC}(storage|cache|fanout|redis)/`;
const KERNEL = `${SRC}(protocol/|config\\.ts|errors\\.ts|logger\\.ts|metrics\\.ts|key-formats\\.ts|ids\\.ts)`;

/** A folder of the domain that must not import the listed sibling folders. */
const siblingRule = (from, to, why) => ({
  name: `${from}-not-to-${to.join('-')}`,
  comment: why,
  severity: 'error',
  from: { path: `${SRC}${from}/` },
  to: { path: `${SRC}(${to.join('|')})/` },
});

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'No import cycle between modules.', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'domain-not-to-entry',
      comment: 'The domain does not know its entry points (HTTP, WebSocket, composition root, benchmarks).',
      severity: 'error',
      from: { path: DOMAIN, pathNot: `${SRC}backup/cli\\.ts` },
      to: { path: ENTRY },
    },
    {
      name: 'adapters-not-up',
      comment: 'Storage, cache and fan-out adapters implement ports; they do not call the domain or the entry points.',
      severity: 'error',
      from: { path: ADAPTERS },
      to: { path: `${ENTRY}|${DOMAIN}` },
    },
    {
      name: 'kernel-not-up',
      comment: 'The kernel (wire codec, close codes, config, errors, logger) is imported by all and imports none of them.',
      severity: 'error',
      from: { path: KERNEL },
      to: { path: `${ENTRY}|${DOMAIN}|${ADAPTERS}` },
    },
    {
      name: 'protocol-is-a-leaf',
      comment: 'The wire codec and the close codes import nothing of the server.',
      severity: 'error',
      from: { path: `${SRC}protocol/` },
      to: { path: SRC, pathNot: `${SRC}protocol/` },
    },
    {
      name: 'src-not-to-tests',
      comment: 'Shipped code never imports tests or benchmarks (fakes live in test/).',
      severity: 'error',
      from: { path: SRC },
      to: { path: '^apps/sync-server/(test|bench)/' },
    },
    siblingRule('jobs', ['docs', 'telemetry', 'plan', 'audit', 'security', 'auth', 'backup'], 'jobs/ only schedules: the use cases live in their domain and are registered by the composition root.'),
    siblingRule('docs', ['telemetry', 'plan', 'audit', 'security', 'jobs', 'auth', 'backup'], 'Documents know nothing of telemetry, audit or jobs; the composition root connects them.'),
    siblingRule('telemetry', ['docs', 'plan', 'audit', 'security', 'jobs', 'auth', 'backup'], 'Telemetry reaches documents only through its LearnerDocuments port.'),
    siblingRule('plan', ['docs', 'audit', 'security', 'jobs', 'auth', 'backup'], 'The practice plan builds on telemetry (insights, LearnerDocuments) and reads documents through a port the composition root gives it.'),
    siblingRule('audit', ['docs', 'telemetry', 'plan', 'security', 'jobs', 'auth', 'backup'], 'The audit trail is below security, which composes it.'),
    siblingRule('security', ['docs', 'telemetry', 'plan', 'jobs', 'auth', 'backup'], 'Security decorates stores; it composes audit and nothing else of the domain.'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    tsPreCompilationDeps: true,
    // The test tsconfig covers src/, test/ and bench/; `./x.js` imports resolve to `./x.ts` through it.
    tsConfig: { fileName: require('node:path').join(__dirname, 'apps/sync-server/tsconfig.test.json') },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['@prepmate/source', 'import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.cjs'],
    },
  },
};
