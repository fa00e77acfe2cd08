/**
 * `npm run bench -- <name>`: runs one benchmark (or `all`), printing its figures. Every benchmark starts
 * what it needs (gateway, simulator, baseline server) and stops it, deleting its Redis keys and files.
 */
const BENCHMARKS = [
  'submit',
  'status',
  'mcp',
  'tracking',
  'lifecycle',
  'nessus',
  'store',
  'ratelimit',
  'parse',
  'list',
  'footprint',
] as const;
type Name = (typeof BENCHMARKS)[number];

async function runOne(name: Name): Promise<void> {
  // require, not import(): the benchmarks run as CommonJS under ts-node, and only the chosen one loads.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(`./${name}`) as { run(args: string[]): Promise<void> };
  await mod.run(process.argv.slice(3));
}

async function main(): Promise<void> {
  const name = process.argv[2];
  if (!name || !(name === 'all' || (BENCHMARKS as readonly string[]).includes(name))) {
    process.stderr.write(`usage: npm run bench -- <${BENCHMARKS.join('|')}|all> [options]\n`);
    process.exit(2);
  }
  for (const n of name === 'all' ? BENCHMARKS : [name as Name]) await runOne(n);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
