/** Exponential backoff with full jitter: uniform in [base/2, min(max, base * 2^attempt)]. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  const floor = Math.min(ceiling, baseMs / 2);
  return floor + random() * (ceiling - floor);
}

/** Resolves after `ms` (an unref'd timer: a pending backoff never keeps the process alive alone). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
