/**
 * A latency histogram with fixed buckets, kept in the connector's stats and rendered at scrape
 * (http/metrics.ts) as a Prometheus histogram. Recording is one loop over a dozen bounds, once per
 * Kafka transaction: the pipeline never touches the metrics library.
 */

/** Upper bounds in seconds: sub-millisecond commits on loopback up to a broker stalling for tens of seconds. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class LatencyHistogram {
  readonly bounds: readonly number[];
  /** Observations at or below each bound (not cumulative); the last slot counts those above every bound. */
  private readonly counts: number[];
  count = 0;
  sumSeconds = 0;

  constructor(bounds: readonly number[] = LATENCY_BUCKETS_SECONDS) {
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(seconds: number): void {
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++;
    this.counts[i]! += 1;
    this.count += 1;
    this.sumSeconds += seconds;
  }

  /** Prometheus' cumulative buckets: observations at or below each bound, then +Inf (= count). */
  cumulative(): Array<{ le: number | '+Inf'; count: number }> {
    let running = 0;
    const out: Array<{ le: number | '+Inf'; count: number }> = this.bounds.map((le, i) => {
      running += this.counts[i]!;
      return { le, count: running };
    });
    out.push({ le: '+Inf', count: this.count });
    return out;
  }

  /** Upper bound of the bucket holding quantile q (0..1), in seconds; null before any observation. */
  quantileUpperBound(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.ceil(q * this.count);
    for (const { le, count } of this.cumulative()) if (count >= rank) return le === '+Inf' ? Infinity : le;
    return Infinity;
  }
}
