/**
 * RedisBus throughput and latency on loopback (issue 9; results in docs/cluster.md):
 *
 *   node --import tsx bench/redis-bus.ts [nodes=2]
 *
 * One publisher and nodes-1 receivers, all in this process (so the receivers' decoding shares its CPU), through the
 * Redis of NATTER_TEST_REDIS (default redis://127.0.0.1:6379). Bounded: about 15 s; its keys are removed at the end.
 */
import { performance } from 'node:perf_hooks';
import { decodeEnvelope, encodeEnvelope } from '../src/bus/codec.js';
import { RedisBus } from '../src/bus/redis.js';
import type { NetworkEvent } from '../src/core/events.js';

const url = process.env['NATTER_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';
if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname)) throw new Error(`${url} is not on loopback`);
const nodes = Number(process.argv[2] ?? 2);
if (!Number.isInteger(nodes) || nodes < 2 || nodes > 8) throw new Error('nodes: 2 to 8');
const network = `natter_bench_${process.pid}`;

/** A room message like a client's, with `time` carrying the publish instant for the latency. */
const message = (i: number, at: number): NetworkEvent => ({
  type: 'channelMessage',
  from: 'bench-0.17',
  command: 'PRIVMSG',
  channel: '#bench',
  target: '#bench',
  minRank: 0,
  text: `message number ${i} with some ordinary chat text in it`,
  tags: undefined,
  time: at,
  msgid: `abcdefghijkl-${i}`,
  device: 'bench-0.17',
});

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

{
  const count = 200_000;
  let text = '';
  let start = performance.now();
  for (let i = 0; i < count; i++) text = encodeEnvelope({ origin: 'bench-0', seq: i + 1, event: message(i, 0) });
  const encode = count / ((performance.now() - start) / 1000);
  start = performance.now();
  for (let i = 0; i < count; i++) decodeEnvelope(text);
  const decode = count / ((performance.now() - start) / 1000);
  console.log(`codec: ${text.length} bytes; encode ${Math.round(encode)}/s, decode ${Math.round(decode)}/s`);
}

const buses: RedisBus[] = [];
for (let i = 0; i < nodes; i++) {
  buses.push(
    await RedisBus.connect({
      url,
      network,
      nodeId: `bench-${i}`,
      onError: (error) => {
        console.error(error);
      },
    }),
  );
}
try {
  const [publisher, ...receivers] = buses;
  if (publisher === undefined) throw new Error('no publisher');
  let received = 0;
  let latencies: number[] | undefined;
  publisher.subscribe(() => undefined);
  for (const receiver of receivers) {
    receiver.subscribe((event) => {
      received++;
      if (latencies !== undefined && event.type === 'channelMessage') latencies.push(performance.now() - event.time);
    });
  }
  const until = async (expected: number): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (received < expected) {
      if (Date.now() > deadline) throw new Error(`only ${received} of ${expected} deliveries`);
      await turn();
    }
  };

  for (const [label, total] of [
    ['warm-up', 20_000],
    ['throughput', 200_000],
  ] as const) {
    received = 0;
    const start = performance.now();
    for (let i = 0; i < total; i += 1000) {
      for (let j = 0; j < 1000; j++) publisher.publish(message(i + j, 0));
      await turn();
    }
    await until(total * receivers.length);
    const seconds = (performance.now() - start) / 1000;
    console.log(`${label}: ${total} events in ${seconds.toFixed(2)} s: ${Math.round(total / seconds)} events/s, ${Math.round((total * receivers.length) / seconds)} deliveries/s`);
  }

  for (const rate of [1000, 10_000, 50_000]) {
    received = 0;
    latencies = [];
    const total = rate * 2;
    const start = performance.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) publisher.publish(message(sent++, performance.now()));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await until(total * receivers.length);
    const sorted = latencies.sort((x, y) => x - y);
    latencies = undefined;
    console.log(`latency at ${rate} events/s: p50 ${percentile(sorted, 0.5).toFixed(2)} ms, p99 ${percentile(sorted, 0.99).toFixed(2)} ms, max ${percentile(sorted, 1).toFixed(2)} ms`);
  }
} finally {
  await Promise.all(buses.map((bus) => bus.close()));
}
