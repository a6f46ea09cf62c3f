export { SyncEngine, SyncError, type SyncEngineOptions, type SyncKind, type SyncResult } from './engine.js';
export { DEFAULT_CANARY_SET } from './canary.js';
export { Quarantine, portKey, type ContainedResult, type PortsCompiler, type QuarantinedPort } from './quarantine.js';
