// Test-only implementations (in-memory storage, transport, simulator). Never used in production.
export {};
