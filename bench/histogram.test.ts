import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUCKETS, Histogram, bucketHigh, bucketOf, summarize } from './histogram.js';

describe('histogram buckets', () => {
  it('gives every value below 128 its own bucket', () => {
    for (let v = 0; v < 128; v++) {
      assert.equal(bucketOf(v), v);
      assert.equal(bucketHigh(v), v);
    }
  });

  it('puts every value into a bucket whose range contains it, within 1/64 relative error', () => {
    const values = [128, 129, 255, 256, 1000, 4095, 4096, 99_999, 1_000_000, 123_456_789, 0xffffffff];
    for (const v of values) {
      const b = bucketOf(v);
      assert.ok(b < BUCKETS, `bucket ${b} of ${v} out of range`);
      const high = bucketHigh(b);
      const low = b === 0 ? 0 : bucketHigh(b - 1) + 1;
      assert.ok(low <= v && v <= high, `${v} not in [${low}, ${high}]`);
      assert.ok((high - low + 1) / low <= 1 / 64, `bucket of ${v} too wide: [${low}, ${high}]`);
    }
  });

  it('has contiguous, increasing buckets', () => {
    for (let b = 1; b < BUCKETS; b++) assert.equal(bucketOf(bucketHigh(b - 1) + 1), b);
  });

  it('clamps negative and huge values', () => {
    assert.equal(bucketOf(-5), 0);
    assert.equal(bucketOf(2 ** 40), BUCKETS - 1);
  });
});

describe('histogram percentiles', () => {
  it('reports exact percentiles for small values', () => {
    const h = new Histogram();
    for (let v = 1; v <= 100; v++) h.record(v);
    assert.equal(h.count, 100);
    assert.equal(h.percentile(50), 50);
    assert.equal(h.percentile(90), 90);
    assert.equal(h.percentile(99), 99);
    assert.equal(h.percentile(100), 100);
    assert.equal(h.min, 1);
    assert.equal(h.max, 100);
    assert.equal(h.mean(), 50.5);
  });

  it('stays within 1.6 % above the true percentile for a wide spread', () => {
    const h = new Histogram();
    const values: number[] = [];
    // A deterministic spread from 1 µs to about 2 s.
    for (let i = 0; i < 10_000; i++) {
      const v = Math.round(Math.exp((i / 10_000) * Math.log(2_000_000)));
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    for (const p of [50, 90, 99, 99.9]) {
      const truth = values[Math.ceil((p / 100) * values.length) - 1] ?? 0;
      const got = h.percentile(p);
      assert.ok(got >= truth, `p${p}: ${got} < ${truth}`);
      assert.ok(got <= truth * (1 + 1 / 64), `p${p}: ${got} more than 1/64 above ${truth}`);
    }
  });

  it('never reports more than the maximum recorded', () => {
    const h = new Histogram();
    h.record(1000);
    assert.equal(h.percentile(99), 1000);
  });

  it('merges exactly: two halves give the same percentiles as the whole', () => {
    const whole = new Histogram();
    const a = new Histogram();
    const b = new Histogram();
    for (let i = 0; i < 5000; i++) {
      const v = (i * 7919) % 250_000;
      whole.record(v);
      (i % 2 === 0 ? a : b).record(v);
    }
    const merged = Histogram.from(a.snapshot());
    merged.merge(b.snapshot());
    assert.equal(merged.count, whole.count);
    assert.equal(merged.min, whole.min);
    assert.equal(merged.max, whole.max);
    for (const p of [1, 50, 90, 99, 100]) assert.equal(merged.percentile(p), whole.percentile(p));
  });

  it('summarizes in milliseconds and reports zeros when empty', () => {
    const empty = summarize(new Histogram());
    assert.deepEqual(empty, { p50: 0, p90: 0, p99: 0, max: 0, mean: 0, samples: 0 });
    const h = new Histogram();
    h.record(2500);
    const s = summarize(h);
    assert.equal(s.max, 2.5);
    assert.ok(s.p50 >= 2.5 && s.p50 <= 2.5 * (1 + 1 / 64));
  });
});
