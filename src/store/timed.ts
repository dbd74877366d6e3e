/**
 * A Store that measures the operations on the message and login paths (issue 10: the histogram
 * natter_store_operation_seconds, docs/operations.md). It wraps the store once, where cli/compose.ts opens it, so no
 * call site changes; every other method is the store's own, bound to it.
 */
import type { LatencyHistogram, StoreTimings } from '../core/counters.js';
import type { Store } from '../core/store.js';

export function timedStore(store: Store, timings: StoreTimings): Store {
  const { history_append: append, history_query: query, account_lookup: lookup } = timings.operations;
  const measured: Pick<Store, 'appendHistory' | 'queryHistory' | 'findAccount' | 'findAccountById' | 'findAccountByCertfp'> = {
    appendHistory: (item) => measure(append, performance.now(), store.appendHistory(item)),
    queryHistory: (historyQuery) => measure(query, performance.now(), store.queryHistory(historyQuery)),
    findAccount: (nameFolded) => measure(lookup, performance.now(), store.findAccount(nameFolded)),
    findAccountById: (id) => measure(lookup, performance.now(), store.findAccountById(id)),
    findAccountByCertfp: (fingerprint) => measure(lookup, performance.now(), store.findAccountByCertfp(fingerprint)),
  };
  const overrides = new Map<PropertyKey, unknown>(Object.entries(measured));
  // Methods are bound to the store itself, once each: inside them `this` is the store, never this proxy.
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property) {
      const override = overrides.get(property);
      if (override !== undefined) return override;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let method = bound.get(property);
      if (method === undefined) {
        method = (value as (...args: unknown[]) => unknown).bind(target);
        bound.set(property, method);
      }
      return method;
    },
  });
}

/** Records the time from `startedAt` to when `pending` settles, and hands back `pending` itself (its rejection too). */
function measure<T>(histogram: LatencyHistogram, startedAt: number, pending: Promise<T>): Promise<T> {
  const settled = (): void => {
    histogram.observe((performance.now() - startedAt) / 1000);
  };
  pending.then(settled, settled);
  return pending;
}
