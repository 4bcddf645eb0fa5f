import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.js';

// Chaos files each start whole clusters: run them one at a time on a shared 2-core machine.
export default mergeConfig(sharedConfig, defineConfig({ test: { fileParallelism: false } }));
