/**
 * `npm run fuzz -- [--seconds N] [--clients N] [--seed S] [--warmup N] [--rate N] [--heap-limit-mb N]`: a fuzz run of
 * the whole server (test/fuzz/run.ts) for as long as asked. Prints the seed first and, on failure, what replays it
 * and the last lines each fuzz client sent; exits 1 then.
 */
import { parseArgs } from 'node:util';
import { formatReport, randomSeed, runFuzz } from './run.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    clients: { type: 'string', default: '24' },
    seed: { type: 'string' },
    warmup: { type: 'string' },
    rate: { type: 'string', default: '12' },
    'heap-limit-mb': { type: 'string' },
  },
  strict: true,
});

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} expects a positive number, not ${JSON.stringify(text)}`);
  return value;
}

const seconds = positive('seconds', values.seconds, 60);
// Bounded in count: a machine's worth of loopback sockets, not a denial of service of one's own machine.
const clients = Math.min(200, Math.round(positive('clients', values.clients, 24)));
const seed = values.seed === undefined ? randomSeed() : Number.parseInt(values.seed, 10) >>> 0;
const report = await runFuzz({
  seed,
  clients,
  seconds,
  warmupSeconds: positive('warmup', values.warmup, Math.min(10, Math.max(2, seconds / 5))),
  chunksPerSecond: positive('rate', values.rate, 12),
  ...(values['heap-limit-mb'] === undefined ? {} : { heapGrowthLimitBytes: positive('heap-limit-mb', values['heap-limit-mb'], 16) * 1024 * 1024 }),
  log: (text) => {
    console.log(text);
  },
});
console.log(formatReport(report));
process.exit(report.failures.length === 0 ? 0 : 1);
