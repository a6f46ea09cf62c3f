export { SyncEngine, SyncError, type SyncEngineOptions, type SyncKind, type SyncResult } from './engine.js';
export { DEFAULT_CANARY_SET } from './canary.js';
