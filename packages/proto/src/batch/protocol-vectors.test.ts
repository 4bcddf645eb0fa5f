/**
 * PROTOCOL.md's test vectors can never drift from the codec: every vector's input (a JSON block)
 * is encoded here and must give the document's hex and its byte-by-byte annotation; the gzip
 * vector, whose bytes depend on the zlib build, must decode to the same records and decompress to
 * the uncompressed vector's records section; the zigzag table and the CRC-32C check value are
 * computed again. After an intended format change, rewrite the blocks with
 *   cd packages/proto && UPDATE_PROTOCOL_VECTORS=1 npx vitest run src/batch/protocol-vectors.test.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { batchHeaderBytes } from './constants.js';
import { decodeRecordBatch, encodeRecordBatch, validateRecordBatch } from './record-batch.js';
import type { CompressionCodecName, RecordBatchInput } from './record-batch.js';
import { writeVarint } from './varint.js';

const documentPath = new URL('../../PROTOCOL.md', import.meta.url);
const update = process.env['UPDATE_PROTOCOL_VECTORS'] === '1';

interface VectorInput {
  readonly compression: CompressionCodecName;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly records: readonly {
    readonly key: string | null;
    readonly value: string | null;
    readonly timestamp: number;
    readonly headers: readonly { readonly key: string; readonly value: string | null }[];
  }[];
}

/** The fenced block that follows `<!-- name -->` in the document: where its body starts and ends. */
function block(text: string, name: string): { start: number; end: number; body: string } {
  const marker = text.indexOf(`<!-- ${name} -->`);
  expect(marker, `PROTOCOL.md has the block ${name}`).toBeGreaterThanOrEqual(0);
  const open = text.indexOf('```', marker);
  const start = text.indexOf('\n', open) + 1;
  const end = text.indexOf('```', start);
  return { start, end, body: text.slice(start, end) };
}

function batchInput(input: VectorInput): RecordBatchInput {
  const bytes = (text: string | null): Buffer | null => (text === null ? null : Buffer.from(text, 'utf8'));
  return {
    producerId: input.producerId,
    producerEpoch: input.producerEpoch,
    baseSequence: input.baseSequence,
    records: input.records.map((r) => ({
      key: bytes(r.key),
      value: bytes(r.value),
      timestamp: r.timestamp,
      headers: r.headers.map((h) => ({ key: h.key, value: bytes(h.value) })),
    })),
  };
}

function hexLines(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  const lines: string[] = [];
  for (let i = 0; i < hex.length; i += 64) lines.push(hex.slice(i, i + 64));
  return `${lines.join('\n')}\n`;
}

function parseHex(body: string): Buffer {
  return Buffer.from(body.replace(/\s+/g, ''), 'hex');
}

/** A byte-by-byte reading of an uncompressed batch, in the layout PROTOCOL.md describes. */
function annotate(batch: Buffer): string {
  const lines: string[] = [];
  let pos = 0;
  const field = (size: number, what: string): void => {
    lines.push(
      `${String(pos).padStart(5)}  ${batch
        .subarray(pos, pos + size)
        .toString('hex')
        .padEnd(20)}  ${what}`,
    );
    pos += size;
  };
  const varint = (what: (value: number) => string): number => {
    let raw = 0;
    let scale = 1;
    let size = 0;
    for (;;) {
      const byte = batch[pos + size] as number;
      raw += (byte & 0x7f) * scale;
      size++;
      if (byte < 0x80) break;
      scale *= 128;
    }
    const value = raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
    field(size, what(value));
    return value;
  };
  const text = (length: number, what: string): void => {
    if (length > 0) field(length, `${what} ${JSON.stringify(batch.subarray(pos, pos + length).toString('utf8'))}`);
  };
  const nullable = (what: string): void => {
    const length = varint((n) => (n === -1 ? `${what} length -1: null` : `${what} length ${n}`));
    text(length, what);
  };
  field(1, 'magic 0xB5');
  field(1, `version ${batch[1]}`);
  field(8, `base offset ${batch.readBigUInt64BE(2)} (the leader stamps it; outside the CRC)`);
  field(4, `batch length ${batch.readUInt32BE(10)} (bytes after this field)`);
  field(4, `CRC-32C 0x${batch.readUInt32BE(14).toString(16).padStart(8, '0')} of bytes 18..${batch.byteLength - 1}`);
  field(2, `attributes ${batch.readUInt16BE(18)} (codec none)`);
  field(4, `last offset delta ${batch.readInt32BE(20)}`);
  field(8, `first timestamp ${batch.readBigInt64BE(24)}`);
  field(8, `max timestamp ${batch.readBigInt64BE(32)}`);
  field(8, `producer id ${batch.readBigInt64BE(40)}`);
  field(2, `producer epoch ${batch.readInt16BE(48)}`);
  field(4, `base sequence ${batch.readInt32BE(50)}`);
  const count = batch.readInt32BE(54);
  field(4, `record count ${count}`);
  for (let i = 0; i < count; i++) {
    lines.push(`record ${i}:`);
    varint((n) => `length ${n} (bytes after this varint)`);
    field(1, 'attributes 0');
    varint((n) => `timestamp delta ${n}`);
    varint((n) => `offset delta ${n}`);
    nullable('key');
    nullable('value');
    const headers = varint((n) => `header count ${n}`);
    for (let h = 0; h < headers; h++) {
      nullable(`header ${h} key`);
      nullable(`header ${h} value`);
    }
  }
  expect(pos).toBe(batch.byteLength);
  return `${lines.join('\n')}\n`;
}

describe('PROTOCOL.md test vectors', () => {
  let text = readFileSync(documentPath, 'utf8');
  const replace = (name: string, body: string): void => {
    const found = block(text, name);
    if (update) text = text.slice(0, found.start) + body + text.slice(found.end);
    else
      expect(found.body, `block ${name} (rewrite with UPDATE_PROTOCOL_VECTORS=1 after an intended change)`).toBe(body);
  };
  const input = (name: string): VectorInput => JSON.parse(block(text, `${name}:input`).body) as VectorInput;

  it("gives the encoder's exact bytes for the uncompressed vectors, and their annotation", () => {
    for (const name of ['vector-1', 'vector-2']) {
      const vector = input(name);
      expect(vector.compression).toBe('none');
      const bytes = encodeRecordBatch(batchInput(vector), { compression: 'none' });
      replace(`${name}:hex`, hexLines(bytes));
      if (name === 'vector-1') replace(`${name}:annotated`, annotate(bytes));
      const documented = parseHex(block(text, `${name}:hex`).body);
      expect(validateRecordBatch(documented)).toEqual(decodeRecordBatch(bytes).header);
    }
  });

  it('gives a gzip vector that decodes to its records and decompresses to the uncompressed records section', () => {
    const vector = input('vector-3');
    expect(vector.compression).toBe('gzip');
    const encoded = encodeRecordBatch(batchInput(vector), { compression: 'gzip' });
    if (update) replace('vector-3:hex', hexLines(encoded));
    const documented = parseHex(block(text, 'vector-3:hex').body);
    validateRecordBatch(documented);
    const records = (bytes: Buffer) =>
      decodeRecordBatch(bytes).records.map((r) => ({
        ...r,
        key: r.key && Buffer.from(r.key),
        value: r.value && Buffer.from(r.value),
        headers: r.headers.map((h) => ({ key: h.key, value: h.value && Buffer.from(h.value) })),
      }));
    expect(records(documented)).toEqual(records(encoded));
    const plain = encodeRecordBatch(batchInput({ ...vector, compression: 'none' }), { compression: 'none' });
    expect(gunzipSync(documented.subarray(batchHeaderBytes)).equals(plain.subarray(batchHeaderBytes))).toBe(true);
    // The header differs from the uncompressed batch's only in its length, CRC and codec.
    expect(documented.subarray(20, batchHeaderBytes).equals(plain.subarray(20, batchHeaderBytes))).toBe(true);
  });

  it('states zigzag varints and the CRC-32C check value right', () => {
    const rows = block(text, 'zigzag-table').body.trim().split('\n');
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) {
      const [value, hex] = row.trim().split(/\s+->\s+/);
      const out = Buffer.alloc(10);
      const end = writeVarint(out, 0, Number(value));
      expect(
        out
          .subarray(0, end)
          .toString('hex')
          .replace(/(..)(?!$)/g, '$1 '),
        `zigzag of ${value}`,
      ).toBe(hex);
    }
    const check = /CRC-32C of the ASCII bytes "123456789" is 0x([0-9a-f]{8})/.exec(text);
    expect(check?.[1]).toBe((crc32c(Buffer.from('123456789')) >>> 0).toString(16));
  });

  it('has been rewritten when asked to', () => {
    if (update) writeFileSync(documentPath, text);
    expect(true).toBe(true);
  });
});
