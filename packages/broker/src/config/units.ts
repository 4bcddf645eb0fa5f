/**
 * Strict parsing of durations ("10ms", "30s", "1h30m", "168h") and sizes (1048576, "64MiB",
 * "1GB"). Strict means: a unit is required on durations, numbers are whole, nothing trails,
 * and the result stays inside the bounds of constants.ts. Each parser returns a value or a
 * one-line reason, so that config loading can collect every problem before stopping.
 */
import { durationMsMax, sizeBytesMax } from './constants.js';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const durationUnitsMs: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60 * 1000,
  h: 3600 * 1000,
  d: 24 * 3600 * 1000,
};

const durationPartPattern = /(\d+)(ms|s|m|h|d)/y;

/**
 * Parses a duration into milliseconds. Accepts one or more `<whole number><unit>` parts with
 * units ms, s, m, h, d, largest first ("1h30m"), and the bare string "0".
 */
export function parseDurationMs(text: string): Parsed<number> {
  const trimmed = text.trim();
  if (trimmed === '0') return { ok: true, value: 0 };
  if (trimmed === '') return { ok: false, reason: 'empty duration' };
  if (/^\d+$/.test(trimmed)) return { ok: false, reason: `duration "${text}" has no unit` };
  let totalMs = 0;
  let position = 0;
  let previousUnitMs = Number.POSITIVE_INFINITY;
  durationPartPattern.lastIndex = 0;
  while (position < trimmed.length) {
    durationPartPattern.lastIndex = position;
    const match = durationPartPattern.exec(trimmed);
    if (match === null) return { ok: false, reason: `"${text}" is not a duration` };
    const amount = Number(match[1]);
    const unitMs = durationUnitsMs[match[2] ?? ''] ?? 0;
    if (unitMs >= previousUnitMs)
      return { ok: false, reason: `"${text}" repeats a unit or lists a smaller unit first` };
    previousUnitMs = unitMs;
    totalMs += amount * unitMs;
    position = durationPartPattern.lastIndex;
  }
  if (!Number.isSafeInteger(totalMs) || totalMs > durationMsMax) {
    return { ok: false, reason: `duration "${text}" is longer than the maximum ${formatDurationMs(durationMsMax)}` };
  }
  return { ok: true, value: totalMs };
}

/** The shortest canonical text for a duration, parseable by `parseDurationMs`. */
export function formatDurationMs(durationMs: number): string {
  if (durationMs === 0) return '0';
  let rest = durationMs;
  let text = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const unitMs = durationUnitsMs[unit] ?? 1;
    const amount = Math.floor(rest / unitMs);
    if (amount > 0) {
      text += `${amount}${unit}`;
      rest -= amount * unitMs;
    }
  }
  return text;
}

const sizeUnitsBytes: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  TB: 1000 ** 4,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

/**
 * Parses a size into bytes: a whole number of bytes, or `<whole number><unit>` with a unit of
 * B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), optionally with
 * one space before the unit. Units are case-sensitive so that "mb" (millibits?) is refused.
 */
export function parseSizeBytes(text: string): Parsed<number> {
  const match = /^(\d+) ?([A-Za-z]*)$/.exec(text.trim());
  if (match === null) return { ok: false, reason: `"${text}" is not a size (write bytes, or e.g. "64MiB")` };
  const unit = match[2] ?? '';
  const unitBytes = unit === '' ? 1 : sizeUnitsBytes[unit];
  if (unitBytes === undefined) {
    return { ok: false, reason: `unknown size unit "${unit}" (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)` };
  }
  const value = Number(match[1]) * unitBytes;
  if (!Number.isSafeInteger(value) || value > sizeBytesMax) {
    return { ok: false, reason: `size "${text}" is larger than the maximum 1PiB` };
  }
  return { ok: true, value };
}

/** The exact text for a size: the largest binary unit that divides it, else bytes. */
export function formatSizeBytes(sizeBytes: number): string {
  for (const unit of ['TiB', 'GiB', 'MiB', 'KiB'] as const) {
    const unitBytes = sizeUnitsBytes[unit] ?? 1;
    if (sizeBytes >= unitBytes && sizeBytes % unitBytes === 0) return `${sizeBytes / unitBytes}${unit}`;
  }
  return `${sizeBytes}`;
}
