/**
 * A histogram kept in each connector's stats (a LatencyHistogram, bumped on the hot path) as a
 * Prometheus histogram. prom-client's Histogram only grows by observe(); the registry accepts any
 * object with its metric interface, and renders the `values` this one returns like a Histogram's.
 */
import type { Metric } from 'prom-client';
import type { ConnectorStatus } from '../connector.ts';
import type { LatencyHistogram } from '../stats/latency-histogram.ts';

/** One connector's status, read once per scrape. */
export interface Sample {
  connector: string;
  status: ConnectorStatus;
}

export function histogramMetric(name: string, help: string, samples: () => readonly Sample[], pick: (status: ConnectorStatus) => LatencyHistogram | null): Metric {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    collect: () => undefined,
    reset: () => undefined,
    async get() {
      const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
      for (const { connector, status } of samples()) {
        const histogram = pick(status);
        if (!histogram) continue;
        for (const { le, count } of histogram.cumulative()) values.push({ metricName: `${name}_bucket`, labels: { connector, le }, value: count });
        values.push({ metricName: `${name}_sum`, labels: { connector }, value: histogram.sumSeconds });
        values.push({ metricName: `${name}_count`, labels: { connector }, value: histogram.count });
      }
      return { name, help, type: metric.type, aggregator: metric.aggregator, values };
    },
  };
  return metric as unknown as Metric;
}
