import { describe, expect, it } from 'vitest';
import type { DestinationStream } from 'pino';
import { componentLogger, createLogger, raftLogger } from './logger.js';

function memoryDestination(): DestinationStream & { lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  return {
    write: (chunk: string) => {
      chunks.push(chunk);
    },
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('logging', () => {
  it('writes one JSON object per line with level label, ISO time, broker id and component', () => {
    const destination = memoryDestination();
    const root = createLogger({ level: 'info', destination, brokerId: 3 });
    componentLogger(root, 'storage').info({ partition: 0, offset: 12 }, 'Message produced');
    const [line] = destination.lines();
    expect(line).toMatchObject({
      level: 'info',
      msg: 'Message produced',
      broker_id: 3,
      component: 'storage',
      partition: 0,
      offset: 12,
    });
    expect(typeof line?.['time']).toBe('string');
    expect(Number.isNaN(Date.parse(String(line?.['time'])))).toBe(false);
  });

  it('honours the configured level', () => {
    const destination = memoryDestination();
    const root = createLogger({ level: 'warn', destination });
    const admin = componentLogger(root, 'admin');
    admin.info('hidden');
    admin.debug('hidden');
    admin.warn('shown');
    admin.error('shown too');
    expect(destination.lines().map((line) => line['level'])).toEqual(['warn', 'error']);
  });

  it('adapts to the Raft library logger hook', () => {
    const destination = memoryDestination();
    const logger = raftLogger(createLogger({ level: 'debug', destination }));
    logger.debug({ term: 2 }, 'became candidate');
    logger.warn({ term: 3 }, 'stepped down');
    expect(destination.lines()).toMatchObject([
      { level: 'debug', component: 'raft', term: 2, msg: 'became candidate' },
      { level: 'warn', component: 'raft', term: 3, msg: 'stepped down' },
    ]);
  });
});
