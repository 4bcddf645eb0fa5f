/** "Did you mean" for misspelt keys, by edit distance. */
import { suggestionDistanceMax } from './constants.js';

/**
 * Edit distance counting insertions, deletions, substitutions and swaps of two neighbouring
 * characters (optimal string alignment): "tpoic" is one typo away from "topic", not two.
 */
export function editDistance(a: string, b: string): number {
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      let best = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, (beforePrevious[j - 2] ?? 0) + 1);
      current.push(best);
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The closest candidate to `word`, or undefined when none is close enough. A candidate whose
 * last dotted segment equals the word's last segment wins outright: a known key put in the
 * wrong section (`server.wal_sync` -> `storage.wal_sync`).
 */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const leaf = word.split('.').at(-1) ?? word;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const candidateLeaf = candidate.split('.').at(-1) ?? candidate;
    const distance = candidateLeaf === leaf ? 0 : editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  const allowed = Math.min(suggestionDistanceMax, Math.max(1, Math.floor(word.length / 3)));
  return bestDistance <= allowed ? best : undefined;
}
