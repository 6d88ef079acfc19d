#!/usr/bin/env node
// The bucketfs command line. The code is built to dist/ (npm run build); this launcher only loads it.
// The AWS SDK warns on every run about future Node versions; that says nothing about this tool's use.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let cli;
try {
  cli = await import('../dist/daemon/cli.js');
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist/daemon/cli.js')) throw e;
  process.stderr.write('bucketfs: not built yet; run: npm run build\n');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
