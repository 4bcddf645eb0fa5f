/** Test helpers shared by the chaos suites. */

/** Polls `probe` until it returns non-zero (bounded); returns that value. */
export async function until(probe: () => number | Promise<number>, timeoutMs = 20_000, pollMs = 50): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== 0) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
