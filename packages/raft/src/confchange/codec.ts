/**
 * The binary form of a ConfChange inside a log entry (EntryType.confChange), big-endian:
 *   u8 version (1) | u8 transition | u16 change count | per change: u8 type, u32 node id |
 *   u32 context length | context bytes
 * Node ids are unsigned 32-bit (broker ids).
 */
import { assert } from '../errors.js';
import { ConfChangeTransition, ConfChangeType } from '../types.js';
import type { ConfChange, ConfChangeSingle } from '../types.js';

const codecVersion = 1;
const headerBytes = 4;
const changeBytes = 5;
const contextLengthBytes = 4;
/** Bounds of one ConfChange; more changes than this is a misuse, not a configuration. */
export const confChangesMax = 0xffff;

export function encodeConfChange(change: ConfChange): Uint8Array {
  assert(change.changes.length <= confChangesMax, 'conf change count within bound');
  const size = headerBytes + change.changes.length * changeBytes + contextLengthBytes + change.context.byteLength;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint8(0, codecVersion);
  view.setUint8(1, change.transition);
  view.setUint16(2, change.changes.length);
  let offset = headerBytes;
  for (const single of change.changes) {
    assert(
      Number.isInteger(single.nodeId) && single.nodeId > 0 && single.nodeId <= 0xffffffff,
      'node id is a positive u32',
    );
    view.setUint8(offset, single.type);
    view.setUint32(offset + 1, single.nodeId);
    offset += changeBytes;
  }
  view.setUint32(offset, change.context.byteLength);
  out.set(change.context, offset + contextLengthBytes);
  return out;
}

const transitions = new Set<number>(Object.values(ConfChangeTransition));
const types = new Set<number>(Object.values(ConfChangeType));

/** Decodes an entry's data; a malformed entry is a bug (the leader only appends encoded ones). */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  assert(data.byteLength >= headerBytes + contextLengthBytes, 'conf change holds its header');
  assert(view.getUint8(0) === codecVersion, 'conf change codec version known');
  const transition = view.getUint8(1);
  assert(transitions.has(transition), 'conf change transition known');
  const count = view.getUint16(2);
  assert(data.byteLength >= headerBytes + count * changeBytes + contextLengthBytes, 'conf change holds its changes');
  const changes: ConfChangeSingle[] = [];
  let offset = headerBytes;
  for (let i = 0; i < count; i++) {
    const type = view.getUint8(offset);
    assert(types.has(type), 'conf change type known');
    changes.push({ type: type as ConfChangeType, nodeId: view.getUint32(offset + 1) });
    offset += changeBytes;
  }
  const contextBytes = view.getUint32(offset);
  offset += contextLengthBytes;
  assert(data.byteLength === offset + contextBytes, 'conf change length matches');
  return { transition: transition as ConfChangeTransition, changes, context: data.subarray(offset) };
}
