#!/usr/bin/env node
// The `retort` executable. retort ships TypeScript sources: the CLI runs from a cached JavaScript
// build of them (compiled-cli.mjs); where none can be built, the tsx loader is registered before
// anything else is imported and the sources are loaded as they are.
import module from "node:module";

// Node 22.1+: V8 keeps the compiled code of the CLI and the migrations between runs (a no-op on
// older Node); loaded first, so it covers everything imported below.
module.enableCompileCache?.();
const { compiledMain } = await import("./compiled-cli.mjs");

let main = await compiledMain();
if (!main) {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("./main.ts"));
}
process.exitCode = await main(process.argv.slice(2));
