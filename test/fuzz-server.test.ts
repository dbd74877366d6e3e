/**
 * A short fuzz run of the whole server (issue 10, item 1; test/fuzz/run.ts): random and mutated command lines from a
 * dozen clients at once, while sentinel clients chat; afterwards the server answers every sentinel, serves a fresh
 * client, holds nothing of the fuzz clients, and its heap after GC is back near where it was.
 *
 * Two runs: a fixed seed (a failure shows up the same way again) and a seed new at every run, printed in the test's
 * name, so CI covers new ground. `FUZZ_SEED=S` sets the second one. What replays a failing run, and searches longer:
 *
 *   npm run fuzz -- --seed S --clients 12 --seconds 3 --warmup 1
 *   npm run fuzz -- --seconds 600
 *
 * A bug found this way gets a named test in test/fuzz-regressions.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMANDS } from '../src/commands/index.js';
import { GENERATED_VERBS, LineGenerator } from './fuzz/generator.js';
import { formatReport, fuzzWorld, randomSeed, runFuzz } from './fuzz/run.js';

const FIXED_SEED = 20_240_610;
const envSeed = Number.parseInt(process.env['FUZZ_SEED'] ?? '', 10);
const NEW_SEED = Number.isSafeInteger(envSeed) ? envSeed >>> 0 : randomSeed();

describe('the fuzz generator (test/fuzz/generator.ts)', () => {
  it('makes lines for every command of the command table, and for no command the server does not have', () => {
    assert.deepEqual([...GENERATED_VERBS].sort(), [...COMMANDS.keys()].sort());
  });

  it('makes the same lines from the same seed, whatever else happens', () => {
    const lines = (seed: number): string[] => {
      const generator = new LineGenerator(seed, fuzzWorld(4), () => 1_700_000_000_000);
      return Array.from({ length: 300 }, () => generator.next({ seen: [], sealed: [] }).bytes.toString('hex'));
    };
    assert.deepEqual(lines(7), lines(7));
    assert.notDeepEqual(lines(7), lines(8));
  });
});

// The two runs at once: each has its own server process, and pacing (not CPU) bounds what the clients send.
describe('fuzz run of the whole server (test/fuzz/run.ts)', { concurrency: 2 }, () => {
  for (const seed of [FIXED_SEED, NEW_SEED]) {
    it(`seed ${seed}: the server survives 12 fuzz clients, every sentinel message arrives, a fresh client is served, and memory comes back`, { timeout: 120_000 }, async (t) => {
      const report = await runFuzz({
        seed,
        clients: 12,
        warmupSeconds: 1,
        seconds: 3,
        log: (text) => {
          t.diagnostic(text);
        },
      });
      const summary = formatReport(report);
      for (const line of summary.split('\n').slice(0, 6)) if (!line.startsWith('replies')) t.diagnostic(line);
      assert.deepEqual(report.failures, [], summary);
      // A run that sent next to nothing would pass without having tested anything.
      assert.ok(report.totals.chunks > 300, `only ${report.totals.chunks} chunks were sent`);
      assert.ok(report.totals.connections >= 12, `only ${report.totals.connections} connections were made`);
    });
  }
});
