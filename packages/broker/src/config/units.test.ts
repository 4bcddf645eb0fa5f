import { describe, expect, it } from 'vitest';
import { formatDurationMs, formatSizeBytes, parseDurationMs, parseSizeBytes } from './units.js';
import { parseBrokerId, parseHostPort, parsePeerList } from './address.js';

describe('durations', () => {
  it.each([
    ['10ms', 10],
    ['30s', 30_000],
    ['168h', 168 * 3600_000],
    ['1h30m', 90 * 60_000],
    ['2d', 2 * 86_400_000],
    ['0', 0],
    [' 5s ', 5000],
  ])('parses %s', (text, expectedMs) => {
    expect(parseDurationMs(text)).toEqual({ ok: true, value: expectedMs });
  });

  it.each(['10', '', '1.5s', '-1s', '10 ms', '5sec', '1m1h', '1s1s', 's', '10ms ', '99999999999d'])(
    'refuses %j',
    (text) => {
      const parsed = parseDurationMs(text);
      if (text === '10ms ') expect(parsed.ok).toBe(true);
      else expect(parsed.ok).toBe(false);
    },
  );

  it('says a bare number needs a unit', () => {
    expect(parseDurationMs('10')).toEqual({ ok: false, reason: 'duration "10" has no unit' });
  });

  it('formats back to parseable text', () => {
    for (const durationMs of [0, 1, 10, 1000, 90_000, 168 * 3600_000, 3_723_004]) {
      expect(parseDurationMs(formatDurationMs(durationMs))).toEqual({ ok: true, value: durationMs });
    }
    expect(formatDurationMs(168 * 3600_000)).toBe('7d');
    expect(formatDurationMs(1500)).toBe('1s500ms');
  });
});

describe('sizes', () => {
  it.each([
    ['1048576', 1048576],
    ['64MiB', 64 * 1024 ** 2],
    ['64 MiB', 64 * 1024 ** 2],
    ['1GB', 1e9],
    ['2KiB', 2048],
    ['0', 0],
    ['10B', 10],
  ])('parses %s', (text, expectedBytes) => {
    expect(parseSizeBytes(text)).toEqual({ ok: true, value: expectedBytes });
  });

  it.each(['1.5GiB', '-1', '64mb', '64XB', 'lots', '', '2048PiB', '64MiBs'])('refuses %j', (text) => {
    expect(parseSizeBytes(text).ok).toBe(false);
  });

  it('formats with the largest exact binary unit', () => {
    expect(formatSizeBytes(64 * 1024 ** 2)).toBe('64MiB');
    expect(formatSizeBytes(1000)).toBe('1000');
    expect(parseSizeBytes(formatSizeBytes(3 * 1024 ** 4))).toEqual({ ok: true, value: 3 * 1024 ** 4 });
  });
});

describe('addresses, peers and broker ids', () => {
  it('parses host:port forms', () => {
    expect(parseHostPort('127.0.0.1:9092', false)).toEqual({ ok: true, value: { host: '127.0.0.1', port: 9092 } });
    expect(parseHostPort('[::1]:9092', false)).toEqual({ ok: true, value: { host: '::1', port: 9092 } });
    expect(parseHostPort('broker-1.streambus:9093', false).ok).toBe(true);
    expect(parseHostPort('127.0.0.1:0', true).ok).toBe(true);
    expect(parseHostPort('127.0.0.1:0', false).ok).toBe(false);
    expect(parseHostPort('127.0.0.1', false).ok).toBe(false);
    expect(parseHostPort('127.0.0.1:70000', false).ok).toBe(false);
    expect(parseHostPort('a b:1', false).ok).toBe(false);
  });

  it('parses peer lists and refuses malformed ones', () => {
    expect(parsePeerList('2=h2:2, 1=h1:1')).toEqual({
      ok: true,
      value: [
        { id: 1, host: 'h1', port: 1 },
        { id: 2, host: 'h2', port: 2 },
      ],
    });
    expect(parsePeerList('')).toEqual({ ok: true, value: [] });
    expect(parsePeerList('1=h:1,1=h:2')).toEqual({ ok: false, reason: 'peer id 1 is listed twice' });
    expect(parsePeerList('1=h:1,2=h:1')).toEqual({ ok: false, reason: 'peers 1 and 2 share the address h:1' });
    expect(parsePeerList('h:1')).toEqual({ ok: false, reason: 'peer "h:1" is not ID=HOST:PORT' });
    expect(parsePeerList('0=h:1').ok).toBe(false);
    expect(parsePeerList('1=h').ok).toBe(false);
  });

  it('maps StatefulSet pod names to ordinal + 1', () => {
    expect(parseBrokerId('streambus-0')).toEqual({ ok: true, value: 1 });
    expect(parseBrokerId('streambus-2')).toEqual({ ok: true, value: 3 });
    expect(parseBrokerId('my-cluster-streambus-10')).toEqual({ ok: true, value: 11 });
    expect(parseBrokerId('7')).toEqual({ ok: true, value: 7 });
    expect(parseBrokerId('0').ok).toBe(false);
    expect(parseBrokerId('streambus').ok).toBe(false);
  });
});
