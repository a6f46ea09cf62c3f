// Re-export (see index.ts): the namespace primitives live in netns/netns.ts.
export * from '../../netns/netns.js';
