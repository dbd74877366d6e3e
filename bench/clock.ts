/**
 * One monotonic clock in microseconds for every thread of the generator, so a receiver in one worker can subtract a
 * send time stamped in another. performance.now() is cheap and allocation-free but its origin is per thread, so each
 * thread measures once how far its origin sits from CLOCK_MONOTONIC (process.hrtime), which all threads share.
 */
import { performance } from 'node:perf_hooks';

function measureOffsetUs(): number {
  let best = Number.POSITIVE_INFINITY;
  let offset = 0;
  // Take the sample with the tightest bracket: the two readings were then closest in time.
  for (let i = 0; i < 50; i++) {
    const a = performance.now();
    const mono = Number(process.hrtime.bigint() / 1000n);
    const b = performance.now();
    if (b - a < best) {
      best = b - a;
      offset = mono - ((a + b) / 2) * 1000;
    }
  }
  return offset;
}

const offsetUs = measureOffsetUs();

/** CLOCK_MONOTONIC in microseconds (fractional), consistent across worker threads to about a microsecond. */
export function nowUs(): number {
  return performance.now() * 1000 + offsetUs;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
