import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey, toPositive } from '../src/murmur2.js';

// Vectors from Apache Kafka's UtilsTest.testMurmur2 (clients/src/test/.../common/utils/UtilsTest.java).
const kafkaVectors: [Uint8Array, number][] = [
  [Buffer.from('21'), -973932308],
  [Buffer.from('foobar'), -790332482],
  [Buffer.from('a-little-bit-long-string'), -985981536],
  [Buffer.from('a-little-bit-longer-string'), -1486304829],
  [Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
  [new Uint8Array([0x61, 0x62, 0x63]), 479470107],
];

describe('murmur2 (Kafka-compatible)', () => {
  it.each(kafkaVectors.map(([key, hash]) => [Buffer.from(key).toString(), key, hash] as const))(
    'hashes %s like Kafka',
    (_name, key, hash) => {
      expect(murmur2(key)).toBe(hash);
    },
  );

  it('toPositive masks the sign bit like Kafka (not Math.abs)', () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(5)).toBe(5);
  });

  it('picks partitions as Kafka: toPositive(murmur2(key)) % n', () => {
    // toPositive(-790332482) = 1357151166; % 12 = 6
    expect(partitionForKey(Buffer.from('foobar'), 12)).toBe(1357151166 % 12);
    expect(partitionForKey(Buffer.from('21'), 3)).toBe(toPositive(-973932308) % 3);
  });

  it('hashes the empty key', () => {
    expect(Number.isInteger(murmur2(new Uint8Array()))).toBe(true);
  });
});
