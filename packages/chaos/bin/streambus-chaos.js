#!/usr/bin/env node
// Launcher for the `streambus-chaos` CLI. It is committed (not built) so that `npm ci` can link
// the bin before the first build; the CLI itself is packages/chaos/dist/cli/main.js.
import('../dist/cli/main.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('streambus-chaos: not built yet; run `npm run build` (or `npx tsc -b packages/chaos`) first');
    process.exit(2);
  }
  throw error;
});
