/**
 * A call forwarded to another broker (a produce to its partition leader, a command to the
 * controller leader) must not outlive that broker's silence: a paused or cut-off peer accepts the
 * call and never answers, and the caller would wait out its whole deadline while an election
 * elsewhere already chose a new leader. The watch cancels the call once the peer is no longer
 * heard from (no frame within an election timeout), so the caller retries at once.
 */
import type { NodeId } from '@streambus/raft';
import { forwardWatchMs } from './constants.js';

/** Runs `call` with a signal that aborts once `peerAlive(to)` turns false; `call` must honour it. */
export async function forwardWhileHeard<T>(
  peerAlive: (id: NodeId) => boolean,
  to: NodeId,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const abort = new AbortController();
  const watch = setInterval(() => {
    if (!peerAlive(to)) abort.abort();
  }, forwardWatchMs);
  try {
    return await call(abort.signal);
  } finally {
    clearInterval(watch);
  }
}
