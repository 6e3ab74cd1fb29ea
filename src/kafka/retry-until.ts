/**
 * Retries a Kafka call until a deadline, with doubling delays: at start, a topic just created may
 * have no leader yet (NOT_LEADER, UNKNOWN_TOPIC_OR_PARTITION) for a moment.
 */
export async function retryUntil<T>(deadline: number, attempt: () => Promise<T>, onRetry: (error: unknown, delayMs: number) => void): Promise<T> {
  for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 5000)) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() + delayMs > deadline) throw error;
      onRetry(error, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
