import { describe, expect, it } from 'vitest';
import { editDistance, suggest } from './suggest.js';

describe('suggestions', () => {
  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('tpoic', 'topic')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests close words only', () => {
    expect(suggest('tpoic', ['topic', 'produce', 'consume'])).toBe('topic');
    expect(suggest('storage.wal_sink', ['storage.wal_sync', 'storage.wal_sync_interval'])).toBe('storage.wal_sync');
    expect(suggest('banana', ['topic', 'produce'])).toBeUndefined();
  });
});
