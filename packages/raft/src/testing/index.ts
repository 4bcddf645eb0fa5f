// Test-only implementations (in-memory storage, transport, simulator). Never used in production.
export { MemoryStorage, MemoryRaftStore } from './memory-storage.js';
