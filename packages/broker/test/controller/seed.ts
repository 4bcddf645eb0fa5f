/**
 * Seeds for randomized tests: FC_SEED replays a run. Every property prints its seed and the
 * command that replays it.
 */
import type { Parameters } from 'fast-check';

const fromEnv = process.env['FC_SEED'];
export const seed = fromEnv !== undefined ? Number(fromEnv) : Date.now() % 2 ** 31;

export function fcOptions<T>(file: string, runs: number): Parameters<T> {
  console.log(`fast-check seed ${seed}; replay: cd packages/broker && FC_SEED=${seed} npx vitest run ${file}`);
  return { seed, numRuns: runs };
}
