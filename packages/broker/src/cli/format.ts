/** Output helpers: aligned tables for people, one JSON document per line for scripts. */

/** Left-aligned columns separated by two spaces; no trailing spaces. */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

export function formatIdList(ids: readonly number[]): string {
  return ids.length === 0 ? '-' : ids.join(',');
}

const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();

export function decodeUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export { formatUptime } from '../admin/health.js';
