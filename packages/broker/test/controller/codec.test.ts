import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand, isControllerCommand } from '../../src/controller/codec.js';
import type { ControllerCommand } from '../../src/controller/commands.js';
import { commandMagic } from '../../src/controller/constants.js';
import { ControllerCodecError } from '../../src/controller/errors.js';
import { anyCommand } from './arbitraries.js';
import { fcOptions } from './seed.js';

const file = 'test/controller/codec.test.ts';

function codecError(run: () => unknown): ControllerCodecError {
  try {
    run();
  } catch (error) {
    if (error instanceof ControllerCodecError) return error;
    throw error;
  }
  throw new Error('expected a ControllerCodecError');
}

describe('controller command codec', () => {
  it('round trips every command, and re-encodes decoded bytes identically', () => {
    fc.assert(
      fc.property(anyCommand, (command) => {
        const bytes = encodeCommand(command);
        expect(bytes[0]).toBe(commandMagic);
        expect(isControllerCommand(bytes)).toBe(true);
        const decoded = decodeCommand(bytes);
        expect(decoded).toEqual(command);
        expect(encodeCommand(decoded)).toEqual(bytes);
      }),
      fcOptions(file, 300),
    );
  });

  it('rejects random bytes with a typed error, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          const command = decodeCommand(bytes);
          // The rare valid command must be canonical: it re-encodes to the same bytes.
          expect(encodeCommand(command)).toEqual(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ControllerCodecError);
        }
      }),
      fcOptions(file, 1000),
    );
  });

  it('rejects random bodies behind a valid header with a typed error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.uint8Array({ maxLength: 120 }), (type, body) => {
        const bytes = Uint8Array.from([commandMagic, type, 1, ...body]);
        try {
          expect(encodeCommand(decodeCommand(bytes))).toEqual(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ControllerCodecError);
          expect((error as ControllerCodecError).code).toBe('CONTROLLER_MALFORMED');
        }
      }),
      fcOptions(file, 1000),
    );
  });

  it('rejects every truncation, trailing byte and flipped byte of valid commands with a typed error or a different valid command', () => {
    fc.assert(
      fc.property(anyCommand, fc.nat(), fc.integer({ min: 1, max: 255 }), (command, at, xor) => {
        const bytes = encodeCommand(command);
        const cut = at % bytes.length;
        expect(codecError(() => decodeCommand(bytes.subarray(0, cut))).code).toBe('CONTROLLER_MALFORMED');
        const longer = new Uint8Array(bytes.length + 1);
        longer.set(bytes);
        expect(codecError(() => decodeCommand(longer)).code).toBe('CONTROLLER_MALFORMED');
        const flipped = bytes.slice();
        flipped[cut] = (flipped[cut] as number) ^ xor;
        try {
          const other = decodeCommand(flipped);
          expect(other).not.toEqual(command);
        } catch (error) {
          expect(error).toBeInstanceOf(ControllerCodecError);
        }
      }),
      fcOptions(file, 300),
    );
  });

  it('names what is wrong: magic, unknown type, newer version', () => {
    const bytes = encodeCommand({ type: 'deleteTopic', name: 'orders' });
    const wrongMagic = bytes.slice();
    wrongMagic[0] = 0x00;
    const error = codecError(() => decodeCommand(wrongMagic));
    expect(error.code).toBe('CONTROLLER_MALFORMED');
    expect(error.message).toMatch(/not a controller command/);
    expect(isControllerCommand(wrongMagic)).toBe(false);
    expect(isControllerCommand(new Uint8Array())).toBe(false);

    const unknownType = bytes.slice();
    unknownType[1] = 200;
    const unknown = codecError(() => decodeCommand(unknownType));
    expect(unknown.code).toBe('CONTROLLER_UNKNOWN_COMMAND');
    expect(unknown.needsUpgrade).toBe(true);

    const newer = bytes.slice();
    newer[2] = 2;
    const version = codecError(() => decodeCommand(newer));
    expect(version.code).toBe('CONTROLLER_UNSUPPORTED_VERSION');
    expect(version.message).toMatch(
      /deleteTopic version 2 is newer than this broker supports \(1\); upgrade this broker/,
    );
    expect(version.needsUpgrade).toBe(true);

    const zero = bytes.slice();
    zero[2] = 0;
    expect(codecError(() => decodeCommand(zero)).code).toBe('CONTROLLER_MALFORMED');
    expect(codecError(() => decodeCommand(new Uint8Array())).code).toBe('CONTROLLER_MALFORMED');
  });

  it('rejects non-canonical varints and invalid UTF-8', () => {
    // deleteTopic name length 1 written as two bytes 0x81 0x00.
    const padded = Uint8Array.from([commandMagic, 5, 1, 0x81, 0x00, 0x61]);
    expect(codecError(() => decodeCommand(padded)).message).toMatch(/non-canonical/);
    const badUtf8 = Uint8Array.from([commandMagic, 5, 1, 1, 0xff]);
    expect(codecError(() => decodeCommand(badUtf8)).message).toMatch(/UTF-8/);
    // A huge count with few bytes behind it is rejected before anything is allocated.
    const hugeCount = Uint8Array.from([commandMagic, 9, 1, 0x90, 0x4e]);
    expect(codecError(() => decodeCommand(hugeCount)).code).toBe('CONTROLLER_MALFORMED');
  });

  it('refuses to encode values outside the format', () => {
    const tooManyReplicas: ControllerCommand = {
      type: 'addPartitions',
      name: 't',
      assignments: [[1, 2, 3, 4, 5, 6, 7, 8]],
    };
    expect(codecError(() => encodeCommand(tooManyReplicas)).code).toBe('CONTROLLER_MALFORMED');
    const badPort: ControllerCommand = {
      type: 'registerBroker',
      brokerId: 1,
      host: 'h',
      port: 70_000,
      adminAddress: '',
      rack: null,
      nowMs: 0,
    };
    expect(codecError(() => encodeCommand(badPort)).message).toMatch(/port 70000/);
    const longHost: ControllerCommand = { ...badPort, port: 9092, host: 'h'.repeat(300) };
    expect(codecError(() => encodeCommand(longHost)).code).toBe('CONTROLLER_TOO_LARGE');
  });

  it('keeps a create of 10,000 partitions with RF 7 under the command bound', () => {
    const assignments = Array.from({ length: 10_000 }, (_, p) =>
      Array.from({ length: 7 }, (_, r) => 0x7fff_0000 + ((p + r) % 50)),
    );
    const bytes = encodeCommand({ type: 'createTopic', name: 'big', replicationFactor: 7, configs: [], assignments });
    expect(decodeCommand(bytes)).toMatchObject({ name: 'big', replicationFactor: 7 });
  });
});
