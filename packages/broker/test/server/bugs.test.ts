import { AssertionError, NotLeaderError } from '@streambus/raft';
import { describe, expect, it } from 'vitest';
import { rethrowBug } from '../../src/bugs.js';

describe('rethrowBug', () => {
  it('rethrows an assertion failure and lets every other error through', async () => {
    expect(() => rethrowBug(new AssertionError('a broken invariant'))).toThrow(AssertionError);
    expect(rethrowBug(new NotLeaderError(2))).toBeUndefined();
    expect(rethrowBug('not even an error')).toBeUndefined();
    await expect(Promise.reject(new Error('expected')).catch(rethrowBug)).resolves.toBeUndefined();
    await expect(Promise.reject(new AssertionError('a bug')).catch(rethrowBug)).rejects.toBeInstanceOf(AssertionError);
  });
});
