// The tests' view of the namespace/topology harness, which lives in netns/ (the benchmark uses it
// too, and bench/ must not import from test/). See netns/index.ts for the API.
export * from '../../netns/index.js';
