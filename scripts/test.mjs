// `npm test`: type-check, lint (including the import direction of ARCHITECTURE.md), then every test
// file under node's test runner. Ends with the line "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  return result.status ?? 1;
}

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(join(root, dir))) {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'fixtures') continue;
    if (statSync(join(root, path)).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

let status = 0;
if (only.length === 0) {
  console.log('# type-check');
  status ||= run('npx', ['tsc', '-p', 'tsconfig.json']);
  console.log('# lint');
  status ||= run('npx', ['eslint', '.']);
  if (status !== 0) {
    console.log('\n0 passed, 1 failed (type-check or lint)');
    process.exit(status);
  }
}
const files = only.length > 0 ? only : ['src', 'test', 'bench'].flatMap(findTests).sort();
const testStatus = run(process.execPath, [
  '--import',
  'tsx',
  '--test',
  '--test-concurrency=3',
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  `--test-reporter=${join(root, 'scripts/summary-reporter.mjs')}`,
  '--test-reporter-destination=stdout',
  ...files,
]);
process.exit(status || testStatus);
