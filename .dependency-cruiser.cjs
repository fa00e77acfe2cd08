/** Import rules of the house style (docs: HOUSE_STYLE "Shape"), checked in CI by `npm run lint`. */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'edges-only-from-app-module',
      comment: 'Only app.module.ts (and the CLI entry) wire the api/ and worker/ edge modules.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(app\\.module|main)\\.ts$', '^src/(api|worker|cli)/'] },
      to: { path: '^src/(api|worker)/' },
    },
    {
      name: 'api-and-worker-are-independent',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: '^src/worker/' },
    },
    {
      name: 'worker-does-not-import-api',
      severity: 'error',
      from: { path: '^src/worker/' },
      to: { path: '^src/api/' },
    },
    {
      name: 'pure-domain-has-no-framework',
      comment: 'Pure domain code is tested directly and imports no Nest, Bull or Redis.',
      severity: 'error',
      from: {
        path: [
          'src/tasks/(task|task-id|task-state-machine)\\.ts$',
          'src/security/target-policy\\.ts$',
          'src/idempotency/(fingerprint|idempotency-key|restorable-key)\\.ts$',
          'src/config/(env\\.schema|scanners-file)\\.ts$',
          'src/scanners/(registry-snapshot|round-robin)\\.ts$',
          'src/results/(filters|profiles|nessus-parser|auth-status)\\.ts$',
        ],
      },
      to: { path: 'node_modules/(@nestjs|bull|ioredis)/' },
    },
    {
      name: 'simulator-is-separate',
      comment: 'The simulator is its own program; the product never imports it.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(simulator|test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '\\.spec\\.ts$' },
  },
};
