import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { streambusVersion } from './version.js';

describe('version', () => {
  it('matches the broker package version', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(streambusVersion).toBe(manifest.version);
  });
});
