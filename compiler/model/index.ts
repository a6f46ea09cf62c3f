// Public API of compiler/model: load Kubernetes objects, validate them, build the service model.
export { loadObjects, InputError, type LoadedObjects } from './load.js';
export {
  buildModel,
  buildUnresolvedModel,
  outermostRanges,
  formatPath,
  servicePortsFor,
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  type EndpointSliceInfo,
  type SlicePort,
  type SliceEndpoint,
} from './build.js';
export { ConflictResolver, resolveConflicts, serviceGroup } from './conflicts.js';
export { categorizeEndpoints, useZoneHints, type EndpointCategories } from './categorize.js';
export {
  serviceSchema,
  servicePortSchema,
  endpointSliceSchema,
  endpointPortSchema,
  endpointSchema,
  nodeSchema,
  nodeAddressSchema,
  SERVICE_NAME_LABEL,
  ZONE_LABEL,
  type ServiceObject,
  type EndpointSliceObject,
  type NodeObject,
} from './schema.js';
export * from './types.js';
