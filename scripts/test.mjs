// `npm test`: type-check (server and web), lint (including the import direction of ARCHITECTURE.md), then
// every test file under node's test runner. Ends with the line "N passed, N failed".
// The browser tests load the built web client (web/dist): when they are in the run, it is rebuilt first if its
// sources are newer than the build.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

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

/** The newest modification time under `dir` (skipping build output and dependencies), 0 when it does not exist. */
function newest(dir) {
  const path = join(root, dir);
  if (!existsSync(path)) return 0;
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let latest = stats.mtimeMs;
  for (const name of readdirSync(path)) {
    if (name === 'dist' || name === 'node_modules') continue;
    latest = Math.max(latest, newest(join(dir, name)));
  }
  return latest;
}

/** Why web/dist must be rebuilt before the tests, or undefined when it is current. */
function webBuildStale() {
  const built = join(root, 'web/dist/index.html');
  if (!existsSync(built)) return 'web/dist is not built';
  const sources = Math.max(...['web', 'src/client', 'src/protocol', 'package-lock.json'].map(newest));
  return sources > statSync(built).mtimeMs ? 'its sources changed since the last build' : undefined;
}

let status = 0;
if (only.length === 0) {
  console.log('# type-check');
  status ||= run('npx', ['tsc', '-p', 'tsconfig.json']);
  status ||= run('npx', ['tsc', '-p', 'web/tsconfig.json']);
  console.log('# lint');
  status ||= run('npx', ['eslint', '.']);
  if (status !== 0) {
    console.log('\n0 passed, 1 failed (type-check or lint)');
    process.exit(status);
  }
}
const files = only.length > 0 ? only : ['src', 'test', 'bench'].flatMap(findTests).sort();
// Only runs with a test that loads the built client wait for (and can be stopped by) the web build.
const usesWebBuild = files.some((file) => /helpers\/browser|web\/dist/.test(readFileSync(resolve(root, file), 'utf8')));
const stale = usesWebBuild ? webBuildStale() : undefined;
if (stale !== undefined) {
  console.log(`# web build (${stale})`);
  if (run('npm', ['run', '--silent', 'build:web', '--', '--logLevel', 'warn']) !== 0) {
    console.log('\n0 passed, 1 failed (web build)');
    process.exit(1);
  }
}
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
