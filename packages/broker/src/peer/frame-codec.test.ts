import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { peerProtoTypes } from '@streambus/proto';
import type { ConfState, Entry, Frame, Message, SnapshotChunk } from '@streambus/raft';
import { MessageType } from '@streambus/raft';
import { decodeFrame, encodeFrame } from './frame-codec.js';
import { MalformedFrameError, PeerError, UnsupportedVersionError } from './errors.js';

// Randomized: the seed is printed; replay with
//   cd packages/broker && FC_SEED=<seed> npx vitest run src/peer/frame-codec.test.ts
const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(
  `frame codec properties: seed ${seed} (replay: FC_SEED=${seed} npx vitest run src/peer/frame-codec.test.ts)`,
);
const fcParams = { numRuns: 200, seed } as const;

const u64 = fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.nat(), fc.maxSafeNat());
const nodeIdArb = fc.integer({ min: 1, max: 0xffff_ffff });
const groupIdArb = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff_ffff }));
const bytesArb = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ minLength: 200, maxLength: 2000 }),
);
const idsArb = fc.array(nodeIdArb, { maxLength: 5 });

const confStateArb: fc.Arbitrary<ConfState> = fc.record({
  voters: idsArb,
  learners: idsArb,
  votersOutgoing: idsArb,
  learnersNext: idsArb,
  autoLeave: fc.boolean(),
});
const entryArb: fc.Arbitrary<Entry> = fc.record({
  term: u64,
  index: u64,
  type: fc.constantFrom(0 as const, 1 as const),
  data: bytesArb,
});
const chunkArb: fc.Arbitrary<SnapshotChunk> = fc.record({
  metadata: fc.record({ index: u64, term: u64, confState: confStateArb }),
  offset: u64,
  totalBytes: u64,
  data: bytesArb,
  done: fc.boolean(),
});
const messageTypeArb = fc.constantFrom(...Object.values(MessageType));

function messageArb(from: number, to: number): fc.Arbitrary<Message> {
  return fc.record({
    type: messageTypeArb,
    from: fc.constant(from),
    to: fc.constant(to),
    term: u64,
    logTerm: u64,
    index: u64,
    entries: fc.array(entryArb, { maxLength: 4 }),
    commit: u64,
    reject: fc.boolean(),
    rejectHint: u64,
    snapshot: fc.option(chunkArb, { nil: null }),
    context: bytesArb,
  });
}

const frameArb: fc.Arbitrary<Frame> = fc.tuple(nodeIdArb, nodeIdArb).chain(([from, to]) =>
  fc.record({
    from: fc.constant(from),
    to: fc.constant(to),
    session: u64,
    messages: fc.array(fc.record({ groupId: groupIdArb, message: messageArb(from, to) }), { maxLength: 5 }),
    heartbeats: fc.array(fc.record({ groupId: groupIdArb, term: u64, commit: u64 }), { maxLength: 5 }),
    heartbeatResponses: fc.array(fc.record({ groupId: groupIdArb, term: u64 }), { maxLength: 5 }),
    quiesce: fc.array(fc.record({ groupId: groupIdArb, term: u64 }), { maxLength: 5 }),
  }),
);

/** Bytes as plain arrays so that toEqual compares contents, not Buffer vs Uint8Array classes. */
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, normalize(item)]));
  return value;
}

function plainFrame(overrides: Partial<Frame> = {}): Frame {
  return {
    from: 1,
    to: 2,
    session: 7,
    messages: [],
    heartbeats: [],
    heartbeatResponses: [],
    quiesce: [],
    ...overrides,
  };
}

function message(overrides: Partial<Message> = {}): Message {
  return {
    type: MessageType.append,
    from: 1,
    to: 2,
    term: 3,
    logTerm: 2,
    index: 10,
    entries: [],
    commit: 9,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: new Uint8Array(0),
    ...overrides,
  };
}

describe('frame codec', () => {
  it('round-trips random frames exactly (fast-check)', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        const decoded = decodeFrame(encodeFrame(frame));
        expect(normalize(decoded)).toEqual(normalize(frame));
      }),
      fcParams,
    );
  });

  it('decodes entry data as views into the received buffer, not copies', () => {
    const data = new Uint8Array(4096).map((_, i) => i % 251);
    const frame = plainFrame({
      messages: [{ groupId: 5, message: message({ entries: [{ term: 3, index: 11, type: 0, data }] }) }],
    });
    const bytes = encodeFrame(frame);
    const decoded = decodeFrame(bytes);
    const entry = decoded.messages[0]!.message.entries[0]!;
    expect(entry.data.buffer).toBe(bytes.buffer);
    expect([...entry.data]).toEqual([...data]);
  });

  it('leaves the encoded frame untouched and keeps empty fields empty', () => {
    const frame = plainFrame({ heartbeats: [{ groupId: 0, term: 1, commit: 0 }] });
    const copy = structuredClone(frame);
    const decoded = decodeFrame(encodeFrame(frame));
    expect(frame).toEqual(copy);
    expect(decoded).toEqual(frame);
  });

  it('rejects bytes that are not protobuf with MalformedFrameError', () => {
    const garbage = [Buffer.from([0xff, 0xff, 0xff]), Buffer.from([0x0a, 0x50, 0x01]), Buffer.from([0x2a, 0x7f])];
    for (const bytes of garbage) expect(() => decodeFrame(bytes)).toThrow(MalformedFrameError);
  });

  it('never throws anything but a PeerError for random bytes and random corruption (fast-check)', () => {
    const valid = encodeFrame(
      plainFrame({
        messages: [
          {
            groupId: 1,
            message: message({ entries: [{ term: 1, index: 1, type: 0, data: new Uint8Array([1, 2, 3]) }] }),
          },
        ],
      }),
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(valid.length - 1),
        fc.integer({ min: 1, max: 255 }),
        (random, at, flip) => {
          const corrupt = Buffer.from(valid);
          corrupt[at] = corrupt[at]! ^ flip;
          for (const bytes of [Buffer.from(random), corrupt]) {
            try {
              decodeFrame(bytes);
            } catch (error) {
              expect(error).toBeInstanceOf(PeerError);
            }
          }
        },
      ),
      fcParams,
    );
  });

  it('rejects frames of another protocol version, zero ids, unknown types, unsafe integers and mismatched addresses', () => {
    const type = peerProtoTypes().raftFrame;
    const encode = (wire: object): Buffer => Buffer.from(type.encode(wire).finish());
    const base = { protocolVersion: 1, from: 1, to: 2, session: 1 };
    expect(() => decodeFrame(encode({ ...base, protocolVersion: 2 }))).toThrow(UnsupportedVersionError);
    expect(() => decodeFrame(encode({ ...base, protocolVersion: 0 }))).toThrow(UnsupportedVersionError);
    expect(() => decodeFrame(encode({ ...base, from: 0 }))).toThrow(MalformedFrameError);
    expect(() => decodeFrame(encode({ ...base, to: 0 }))).toThrow(MalformedFrameError);
    expect(() => decodeFrame(encode({ ...base, session: 2 ** 53 }))).toThrow(/session/);
    const wireMessage = { type: 1, from: 1, to: 2, term: 1 };
    expect(() =>
      decodeFrame(encode({ ...base, messages: [{ groupId: 1, message: { ...wireMessage, type: 99 } }] })),
    ).toThrow(/message type/);
    expect(() =>
      decodeFrame(encode({ ...base, messages: [{ groupId: 1, message: { ...wireMessage, type: 0 } }] })),
    ).toThrow(/message type/);
    expect(() =>
      decodeFrame(encode({ ...base, messages: [{ groupId: 1, message: { ...wireMessage, from: 3 } }] })),
    ).toThrow(/from differs/);
    expect(() =>
      decodeFrame(encode({ ...base, messages: [{ groupId: 1, message: { ...wireMessage, to: 3 } }] })),
    ).toThrow(/to differs/);
    expect(() => decodeFrame(encode({ ...base, messages: [{ groupId: 1 }] }))).toThrow(/missing/);
    expect(() =>
      decodeFrame(encode({ ...base, messages: [{ groupId: 1, message: { ...wireMessage, entries: [{ type: 5 }] } }] })),
    ).toThrow(/entry type/);
    expect(() =>
      decodeFrame(
        encode({ ...base, messages: [{ groupId: 1, message: { ...wireMessage, snapshot: { offset: 1 } } }] }),
      ),
    ).toThrow(/metadata/);
    expect(() => decodeFrame(encode({ ...base, heartbeats: [{ groupId: 1, term: 2 ** 60 }] }))).toThrow(
      /heartbeat term/,
    );
    expect(decodeFrame(encode(base))).toEqual(plainFrame({ session: 1 }));
  });
});
