#!/usr/bin/env node
// The `agentsight` CLI (compiled from services/api/src/cli/main.ts; build with `npm run setup`).
require('../dist/cli/main.js').program().parseAsync(process.argv).catch((err) => {
  process.stderr.write(`agentsight: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
