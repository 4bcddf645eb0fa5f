/** Exponential backoff with full jitter: uniform in [base/2, min(max, base * 2^attempt)]. */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  const floor = Math.min(ceiling, baseMs / 2);
  return floor + random() * (ceiling - floor);
}

/**
 * Resolves after `ms`, or as soon as `signal` aborts. The timer is ref'd: whoever awaits it is
 * an operation still running, and the process must not exit under it.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
