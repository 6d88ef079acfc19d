/**
 * Layering rules: dependencies point one way, daemon → vfs → {cache, drivers}.
 * drivers/ imports no other layer; cache/ may take only types from drivers/;
 * fuse-native is imported by exactly one adapter file.
 */
module.exports = {
  forbidden: [
    { name: 'drivers-are-a-leaf', severity: 'error',
      comment: 'drivers/ is a library of its own: it imports nothing from daemon/, vfs/ or cache/',
      from: { path: '^drivers/' }, to: { path: '^(daemon|vfs|cache)/' } },
    { name: 'cache-below-vfs', severity: 'error',
      comment: 'cache/ sits below vfs/ and daemon/',
      from: { path: '^cache/' }, to: { path: '^(daemon|vfs)/' } },
    { name: 'cache-takes-only-driver-types', severity: 'error',
      comment: 'cache/ may import driver types, never driver code',
      from: { path: '^cache/' }, to: { path: '^drivers/', dependencyTypesNot: ['type-only'] } },
    { name: 'vfs-below-daemon', severity: 'error',
      comment: 'vfs/ never reaches up into daemon/',
      from: { path: '^vfs/' }, to: { path: '^daemon/' } },
    { name: 'one-fuse-adapter', severity: 'error',
      comment: 'fuse-native is imported only by vfs/fuse-adapter.ts',
      from: { pathNot: '^vfs/fuse-adapter\\.ts$' }, to: { path: 'fuse-native' } },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    { name: 'production-code-not-from-test', severity: 'error',
      from: { path: '^(daemon|vfs|cache|drivers)/' }, to: { path: '^test/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
