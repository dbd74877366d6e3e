/**
 * Readings from /proc: the server's CPU time and memory, the whole machine's CPU time, and what the machine is. The
 * machine is shared (2 cores for server and generator), so every CPU figure is reported beside the generator's own
 * and "everything else", so a noisy neighbour shows in the results instead of hiding in them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, release } from 'node:os';

/** USER_HZ: the unit of /proc CPU times. 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

interface StatFields {
  ppid: number;
  cpuTicks: number; // utime + stime
  childTicks: number; // cutime + cstime: children that exited and were waited for
}

function readStat(pid: number): StatFields | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const cutime = Number(rest[13]);
  const cstime = Number(rest[14]);
  return { ppid, cpuTicks: utime + stime, childTicks: cutime + cstime };
}

/** Pids of `pid`'s live descendants (a server may fork workers). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const child = Number(name);
    if (!Number.isInteger(child)) continue;
    const st = readStat(child);
    if (st === undefined) continue;
    const list = children.get(st.ppid);
    if (list === undefined) children.set(st.ppid, [child]);
    else list.push(child);
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    if (p === undefined) break;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** CPU seconds (user + system) used so far by `pid` and its live descendants. */
export function processCpuSeconds(pid: number): number {
  const own = readStat(pid);
  if (own === undefined) throw new Error(`no process ${pid} (reading /proc/${pid}/stat)`);
  let ticks = own.cpuTicks;
  for (const d of descendants(pid)) ticks += readStat(d)?.cpuTicks ?? 0;
  return ticks / TICKS_PER_SECOND;
}

/**
 * CPU seconds of a process tree whose children come and go (PostgreSQL's backends, one per connection): `pid`, its
 * children that have exited (cutime + cstime), and its live descendants. processCpuSeconds would lose the CPU of a
 * backend that exits between two readings.
 */
export function processTreeCpuSeconds(pid: number): number {
  const own = readStat(pid);
  if (own === undefined) throw new Error(`no process ${pid} (reading /proc/${pid}/stat)`);
  let ticks = own.cpuTicks + own.childTicks;
  for (const d of descendants(pid)) ticks += readStat(d)?.cpuTicks ?? 0;
  return ticks / TICKS_PER_SECOND;
}

/**
 * How long a thread has been runnable but waiting for a CPU (run_delay, the 2nd field of /proc/PID/task/TID/schedstat),
 * in ms; the main thread by default. NaN without schedstats. On a machine with fewer cores than busy processes, this is
 * where latency goes.
 */
export function runQueueWaitMs(pid: number, tid = pid): number {
  try {
    const f = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').trim().split(/\s+/);
    const ns = Number(f[1]);
    return Number.isFinite(ns) ? ns / 1e6 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Resident memory of `pid` in bytes (VmRSS). */
export function processRssBytes(pid: number): number {
  const text = readFileSync(`/proc/${pid}/status`, 'latin1');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  if (m?.[1] === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** The parent of `pid`, or undefined if there is no such process. */
export function parentPid(pid: number): number | undefined {
  return readStat(pid)?.ppid;
}

export function processExists(pid: number): boolean {
  return readStat(pid) !== undefined;
}

/** Busy CPU seconds of the whole machine (all cores): /proc/stat total minus idle and iowait. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return (total - idle) / TICKS_PER_SECOND;
}

/** Generator CPU seconds: process.cpuUsage covers every thread of this process, the workers included. */
export function generatorCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export interface CpuSnapshot {
  atMs: number;
  server: number;
  generator: number;
  machine: number;
}

/** The server's pid, or every process of a server spread over several (the cluster bench's nodes): CPU summed. */
export function cpuSnapshot(serverPid: number | readonly number[] | undefined): CpuSnapshot {
  let server = Number.NaN;
  if (typeof serverPid === 'number') server = processCpuSeconds(serverPid);
  else if (serverPid !== undefined) server = serverPid.reduce((a, p) => a + processCpuSeconds(p), 0);
  return {
    atMs: performance.now(),
    server,
    generator: generatorCpuSeconds(),
    machine: machineBusySeconds(),
  };
}

/** CPU used between two snapshots, in CPU-seconds and in cores (CPU-seconds per wall second). */
export interface CpuUse {
  wallSeconds: number;
  serverSeconds: number;
  generatorSeconds: number;
  /** Busy time of the machine not explained by server and generator: other processes, interrupts, the kernel. */
  otherSeconds: number;
  serverCores: number;
  generatorCores: number;
  otherCores: number;
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const wall = (b.atMs - a.atMs) / 1000;
  const server = b.server - a.server;
  const generator = b.generator - a.generator;
  const known = (Number.isNaN(server) ? 0 : server) + generator;
  // /proc/stat ticks are coarse (10 ms) and sampled at slightly different moments: clamp the remainder at zero.
  const other = Math.max(0, b.machine - a.machine - known);
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    wallSeconds: r(wall),
    serverSeconds: r(server),
    generatorSeconds: r(generator),
    otherSeconds: r(other),
    serverCores: r(server / wall),
    generatorCores: r(generator / wall),
    otherCores: r(other / wall),
  };
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  kernel: string;
  node: string;
  os: string;
}

export function machineInfo(): MachineInfo {
  let os = 'linux';
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m?.[1] !== undefined) os = m[1];
  } catch {
    // not fatal: the OS name is only informative
  }
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    kernel: release(),
    node: process.version,
    os,
  };
}
