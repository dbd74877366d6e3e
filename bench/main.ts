/**
 * `npm run bench`: the load generator's command line. Starts Natter and the requested reference servers one at a
 * time on loopback (or drives one running server with --target), runs the scenarios on each, and writes the report.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { nowUs } from './clock.js';
import { parseTarget, requireLoopback, sourceAddresses } from './loopback.js';
import { keepClusterSection } from './cluster-report.js';
import { WorkerPool } from './pool.js';
import { machineInfo, processExists } from './proc.js';
import { computeMedians, renderAllTables, renderMarkdown } from './report.js';
import type { Results, ServerInfo, ServerRun } from './report.js';
import type { Context, Target } from './scenarios/common.js';
import { runConnect } from './scenarios/connect.js';
import { runDm } from './scenarios/dm.js';
import { runFanout, runRamp } from './scenarios/fanout.js';
import {
  REFERENCE_SERVERS,
  REPO_ROOT,
  configNotes,
  configPath,
  installHint,
  isInstalled,
  staleBuildWarning,
  startServer,
} from './servers.js';
import type { RunningServer, ServerName } from './servers.js';
import { VARIANTS, VARIANT_SPECS, medianKey, parseVariants } from './variants.js';
import type { Variant } from './variants.js';

const HELP = `Usage: npm run bench -- [options]

Starts Natter and each requested reference server on a free loopback port, runs the same scenarios on each, and
writes docs/BENCHMARKS.md and docs/benchmarks.json (with --quick or --target: bench/results/latest.{md,json}).
Every load targets loopback only, is bounded in count and time, and stops by itself.

Targets
  --against LIST        reference servers to compare with: inspircd,ngircd,ircd-hybrid or all (default: none)
  --no-natter           do not start Natter (only the reference servers)
  --target HOST:PORT    drive an already-running server instead (loopback only)
  --pid PID             that server's pid, for its CPU and memory figures
  --name NAME           label for --target in the report (default: target)

Scenarios
  --scenario LIST       connect,fanout,ramp,dm or all (default: all). fanout = fixed rate; ramp = highest rate
  --repeat N            run everything N times per server and report medians (default 1)
  --quick               small sizes for a smoke run (about 30 s per server)
  --variants LIST       Natter's variants: ${VARIANTS.join(',')} or all (default: plain). Each runs the scenarios
                        on a fresh Natter and is reported beside plain with the ratio variant / plain; tls = every
                        client dials Natter's --listen-tls port. The reference servers run plain only

connect
  --clients N           clients to connect (default 10000; quick 300)
  --connect-rate N      dials per second (default 2000)
fanout and ramp
  --members C           members of the room (default 200; quick 50)
  --senders S           senders among them (default 10; quick 5)
  --rate R              fanout: total msg/s (default 500)
  --duration T          fanout and dm: seconds of load (default 10; quick 2)
  --ramp-start R        first ramp rate, doubled until a step fails (default 1000)
  --ramp-max R          highest rate the ramp tries (default 200000)
  --step T              seconds per ramp step (default 5; quick 1)
  --ramp-budget T       seconds the whole ramp may take (default 180; quick 10)
  --precision F         bisect until fail/pass < 1 + F (default 0.05)
dm
  --pairs P             client pairs (default 500; quick 50)
  --dm-rate R           total msg/s over all pairs (default 5000; quick 1000)

Cluster (issue 9)
  --nodes LIST          the fanout scenario on N \`natter serve --cluster\` nodes (Redis, PostgreSQL), e.g. 1,2,3:
                        see \`npm run bench -- --nodes 1,2,3 --help\`; writes the cluster section of docs/BENCHMARKS.md

Generator
  --size BYTES          delivered line size (default 150)
  --tick MS             send timer period, 1-5 (default 1)
  --drain MS            wait for stragglers after the last send (default 2000)
  --workers N           client worker threads (default 2)
  --sender-thread       give the fan-out's senders a worker thread of their own (one thread more)
  --source-addrs N      spread clients over 127.0.0.1..N (default: enough for the client count)
  --quiet-cores C       before each measurement wait until other processes use fewer cores than C (default 0.3)
  --quiet-wait T        ...but at most T seconds, then measure anyway (default 60; quick 5; 0 = never wait)
  --json FILE           where to write the raw results
  --md FILE             where to write the report
  --no-write            print only
  --render FILE         only rewrite the markdown report from a results JSON file (e.g. docs/benchmarks.json)
  -h, --help            this text

Examples
  npm run bench -- --quick --against inspircd,ngircd
  npm run bench -- --quick --variants plain,tls
  npm run bench -- --against all --repeat 3 --variants plain,tls
  npm run bench -- --target 127.0.0.1:6667 --pid 1234 --scenario ramp --members 200 --senders 10
`;

// `--nodes`: the cluster bench (bench/cluster.ts), a command line of its own.
if (process.argv.slice(2).some((a) => a === '--nodes' || a.startsWith('--nodes='))) {
  const { runClusterBench } = await import('./cluster.js');
  await runClusterBench(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

const { values: args } = parseArgs({
  options: {
    against: { type: 'string' },
    'no-natter': { type: 'boolean' },
    target: { type: 'string' },
    pid: { type: 'string' },
    name: { type: 'string' },
    scenario: { type: 'string' },
    repeat: { type: 'string' },
    quick: { type: 'boolean' },
    variants: { type: 'string' },
    clients: { type: 'string' },
    'connect-rate': { type: 'string' },
    members: { type: 'string' },
    senders: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    'ramp-start': { type: 'string' },
    'ramp-max': { type: 'string' },
    step: { type: 'string' },
    'ramp-budget': { type: 'string' },
    precision: { type: 'string' },
    pairs: { type: 'string' },
    'dm-rate': { type: 'string' },
    size: { type: 'string' },
    tick: { type: 'string' },
    drain: { type: 'string' },
    workers: { type: 'string' },
    'quiet-cores': { type: 'string' },
    'sender-thread': { type: 'boolean' },
    'quiet-wait': { type: 'string' },
    'source-addrs': { type: 'string' },
    json: { type: 'string' },
    md: { type: 'string' },
    'no-write': { type: 'boolean' },
    render: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (args.help === true) {
  process.stdout.write(HELP);
  process.exit(0);
}

const quick = args.quick === true;
const senderThread = args['sender-thread'] === true;

/** A numeric option within [min, max], or its default. */
function num(name: keyof typeof args, full: number, quickValue: number, min: number, max: number): number {
  const raw = args[name];
  const v = typeof raw === 'string' ? Number(raw) : quick ? quickValue : full;
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name} must be a number in [${min}, ${max}]`);
  return v;
}

const opts = {
  repeat: num('repeat', 1, 1, 1, 20),
  clients: num('clients', 10_000, 300, 1, 99_999),
  connectRate: num('connect-rate', 2000, 2000, 1, 100_000),
  members: num('members', 200, 50, 2, 50_000),
  senders: num('senders', 10, 5, 1, 10_000),
  rate: num('rate', 500, 500, 1, 1_000_000),
  duration: num('duration', 10, 2, 0.5, 600),
  rampStart: num('ramp-start', 1000, 1000, 10, 1_000_000),
  rampMax: num('ramp-max', 200_000, 200_000, 10, 10_000_000),
  step: num('step', 5, 1, 0.5, 60),
  rampBudget: num('ramp-budget', 180, 10, 1, 3600),
  precision: num('precision', 0.05, 0.1, 0.001, 1),
  pairs: num('pairs', 500, 50, 1, 49_999),
  dmRate: num('dm-rate', 5000, 1000, 1, 1_000_000),
  size: num('size', 150, 150, 80, 510),
  tick: num('tick', 1, 1, 1, 5),
  drain: num('drain', 2000, 1000, 100, 60_000),
  workers: num('workers', 2, 2, 1, 16),
  quietCores: num('quiet-cores', 0.3, 0.3, 0.01, 64),
  quietWait: num('quiet-wait', 60, 5, 0, 3600),
};

const variants: Variant[] = parseVariants(args.variants);
if (variants.some((v) => v !== 'plain')) {
  if (args.target !== undefined) throw new Error('--variants: only plain with --target (the bench starts variants)');
  if (args['no-natter'] === true) throw new Error("--variants: the variants are Natter's; --no-natter leaves it out");
}

const SCENARIOS = ['connect', 'fanout', 'ramp', 'dm'] as const;
type Scenario = (typeof SCENARIOS)[number];
const wanted: Scenario[] = (() => {
  const list = (args.scenario ?? 'all').split(',').map((s) => s.trim());
  if (list.includes('all')) return [...SCENARIOS];
  for (const s of list) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}`);
  return list as Scenario[];
})();

const biggest = Math.max(
  wanted.includes('connect') ? opts.clients : 0,
  wanted.includes('fanout') || wanted.includes('ramp') ? opts.members : 0,
  wanted.includes('dm') ? opts.pairs * 2 : 0,
);
// About 28k ephemeral ports per source address (32768-60999): use more addresses before running out.
const sourceAddrCount = num('source-addrs', Math.max(1, Math.ceil(biggest / 20_000)), 1, 1, 250);

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

async function runScenarios(
  target: Target,
  repeat: number,
  version: string,
  variant: Variant = 'plain',
): Promise<ServerRun> {
  // Plain runs carry no variant field: their JSON is what it was before variants existed.
  const run: ServerRun = {
    server: target.name,
    ...(variant === 'plain' ? {} : { variant }),
    version,
    repeat,
    errors: [],
  };
  // With --sender-thread, one more worker than asked for: the fan-out's senders get it to themselves (workerOf).
  const pool = await WorkerPool.start(opts.workers + (senderThread ? 1 : 0), {
    host: target.host,
    port: target.port,
    sourceAddrs: sourceAddresses(sourceAddrCount),
    tls: VARIANT_SPECS[variant].transport === 'tls',
  });
  const label = medianKey(target.name, variant);
  const ctx: Context = {
    pool,
    target,
    log: (l) => {
      log(`[${label}] ${l}`);
    },
    generation: repeat * 7,
    epoch: Math.floor(nowUs()) % 1000,
    quietCores: opts.quietCores,
    quietWaitS: opts.quietWait,
    dedicatedSenders: 0,
    senderThread,
  };
  const common = {
    wireSize: opts.size,
    tickMs: opts.tick,
    drainMs: opts.drain,
    connectRate: opts.connectRate,
  };
  const fanoutOpts = {
    ...common,
    members: opts.members,
    senders: opts.senders,
    rate: opts.rate,
    durationS: opts.duration,
  };
  // One failing scenario (a server that refuses 10,000 clients, say) must not cost the others.
  const attempt = async (name: Scenario, f: () => Promise<void>): Promise<void> => {
    if (!wanted.includes(name)) return;
    try {
      await f();
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      run.errors.push(`${name}: ${msg}`);
      ctx.log(`${name} FAILED: ${msg}`);
      await pool.all<'close'>(() => ({ type: 'close' })).catch(() => undefined);
    }
    if (target.pid !== undefined && !processExists(target.pid))
      throw new Error(`${target.name} (pid ${target.pid}) died`);
  };
  try {
    await attempt('connect', async () => {
      run.connect = await runConnect(ctx, { clients: opts.clients, rate: opts.connectRate, settleMs: 2000 });
    });
    await attempt('fanout', async () => {
      run.fanout = await runFanout(ctx, fanoutOpts);
    });
    await attempt('ramp', async () => {
      run.ramp = await runRamp(ctx, {
        ...fanoutOpts,
        startRate: opts.rampStart,
        maxRate: opts.rampMax,
        stepS: opts.step,
        precision: opts.precision,
        budgetS: opts.rampBudget,
      });
    });
    await attempt('dm', async () => {
      run.dm = await runDm(ctx, { ...common, pairs: opts.pairs, rate: opts.dmRate, durationS: opts.duration });
    });
  } finally {
    await pool.stop();
  }
  return run;
}

function parseAgainst(): ServerName[] {
  if (args.against === undefined) return [];
  const list = args.against === 'all' ? [...REFERENCE_SERVERS] : args.against.split(',').map((s) => s.trim());
  const out: ServerName[] = [];
  for (const s of list) {
    if (!(REFERENCE_SERVERS as readonly string[]).includes(s)) {
      throw new Error(`--against: unknown server ${s} (known: ${REFERENCE_SERVERS.join(', ')})`);
    }
    out.push(s as ServerName);
  }
  return out;
}

/** The report being replaced, whose cluster section (written by the cluster bench) the new one keeps. */
function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** --render: rewrite the markdown report from a results file, without running anything. */
function render(jsonPath: string): void {
  const results = JSON.parse(readFileSync(jsonPath, 'utf8')) as Results;
  results.medians = computeMedians(results.runs);
  const mdPath =
    args.md ?? join(dirname(jsonPath), jsonPath.endsWith('benchmarks.json') ? 'BENCHMARKS.md' : 'latest.md');
  writeFileSync(mdPath, keepClusterSection(readIfThere(mdPath), renderMarkdown(results, relative(REPO_ROOT, resolve(jsonPath)))));
  log(`wrote ${relative(process.cwd(), mdPath)}`);
}

async function main(): Promise<void> {
  if (args.render !== undefined) {
    render(args.render);
    return;
  }
  const startedAt = new Date().toISOString();
  const runs: ServerRun[] = [];
  const servers: ServerInfo[] = [];
  const reproduce: string[] = [];
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();

  if (args.target !== undefined) {
    const { host, port } = parseTarget(args.target);
    const pid = args.pid === undefined ? undefined : Number(args.pid);
    if (pid !== undefined && !(Number.isInteger(pid) && processExists(pid)))
      throw new Error(`--pid ${args.pid}: no such process`);
    const name = args.name ?? 'target';
    servers.push({ name, version: 'external', config: `${host}:${port}`, notes: [] });
    for (let r = 1; r <= opts.repeat; r++) {
      log(`== ${name} at ${host}:${port}, run ${r}/${opts.repeat}`);
      runs.push(await runScenarios({ name, host, port, pid }, r, 'external'));
    }
    reproduce.push(command);
  } else {
    const names: ServerName[] = [...(args['no-natter'] === true ? [] : (['natter'] as const)), ...parseAgainst()];
    if (names.length === 0) throw new Error('nothing to run: give --against and/or leave Natter in, or --target');
    const available = names.filter((n) => {
      if (isInstalled(n)) return true;
      log(`skipping ${n}: ${installHint(n)}`);
      return false;
    });
    if (available.length === 0) throw new Error('none of the requested servers is installed');
    const stale = available.includes('natter') ? staleBuildWarning() : undefined;
    if (stale !== undefined) log(`warning: ${stale}`);
    // The notes of Natter's variants: what each adds to its command line.
    const variantNotes = variants
      .filter((v) => v !== 'plain')
      .map((v) => {
        const extra = VARIANT_SPECS[v].natterArgs.join(' ').replace(/\{\{(\w+)\}\}/g, '$1');
        return `Variant ${v}: the same, plus \`${extra}\`.`;
      });
    const noteServer = (name: ServerName, version: string): void => {
      if (servers.some((s) => s.name === name)) return;
      const notes = [...configNotes(name), ...(name === 'natter' ? variantNotes : [])];
      servers.push({ name, version, config: configPath(name), notes });
    };
    // Servers run one at a time (the machine is shared), in turn per repeat so drift hits them all alike; Natter's
    // variants each on a fresh Natter, right after one another.
    for (let r = 1; r <= opts.repeat; r++) {
      for (const name of available) {
        for (const variant of name === 'natter' ? variants : (['plain'] as const)) {
          const label = medianKey(name, variant);
          let server: RunningServer | undefined;
          try {
            server = await startServer(name, variant);
            requireLoopback(server.host);
            noteServer(name, server.version);
            const tlsNote = server.tlsPort === undefined ? '' : ` (TLS on ${server.tlsPort})`;
            log(
              `== ${label} (${server.version}) on ${server.host}:${server.port}${tlsNote}, pid ${server.pid}, ` +
                `run ${r}/${opts.repeat}`,
            );
            runs.push(
              await runScenarios(
                { name, host: server.host, port: server.clientPort, pid: server.pid },
                r,
                server.version,
                variant,
              ),
            );
          } catch (err) {
            const msg = err instanceof Error ? err.message : String(err);
            log(`${label} FAILED: ${msg}`);
            runs.push({
              server: name,
              ...(variant === 'plain' ? {} : { variant }),
              version: server?.version ?? '?',
              repeat: r,
              errors: [msg],
            });
            noteServer(name, '?');
          } finally {
            await server?.stop();
          }
        }
      }
    }
    reproduce.push(
      '# reference servers (Debian 12); ircd-hybrid conflicts with ngircd as a package, so it is unpacked beside it',
      'apt-get update && apt-get install -y inspircd ngircd',
      'bench/servers/ircd-hybrid/install.sh',
      'npm run build',
      command,
    );
  }

  const results: Results = {
    tool: 'natter-bench',
    format: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    command,
    machine: machineInfo(),
    options: { ...opts, scenarios: wanted, variants, sourceAddrs: sourceAddrCount, quick, senderThread },
    servers,
    runs,
    medians: computeMedians(runs),
    reproduce,
  };
  process.stdout.write(`\n${renderAllTables(results)}\n`);
  if (args['no-write'] === true) return;
  const scratch = quick || args.target !== undefined;
  const mdPath = args.md ?? join(REPO_ROOT, scratch ? 'bench/results/latest.md' : 'docs/BENCHMARKS.md');
  const jsonPath = args.json ?? join(REPO_ROOT, scratch ? 'bench/results/latest.json' : 'docs/benchmarks.json');
  for (const p of [mdPath, jsonPath]) mkdirSync(dirname(p), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 1)}\n`);
  writeFileSync(mdPath, keepClusterSection(readIfThere(mdPath), renderMarkdown(results, relative(REPO_ROOT, jsonPath))));
  log(`wrote ${relative(process.cwd(), mdPath)} and ${relative(process.cwd(), jsonPath)}`);
}

// Everything is bounded, but a hung server must not hold the bench forever either.
const hardLimitS = 3 * 3600;
setTimeout(() => {
  log(`giving up after ${hardLimitS} s`);
  process.exit(2);
}, hardLimitS * 1000).unref();

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
