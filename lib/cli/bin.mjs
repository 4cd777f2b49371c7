#!/usr/bin/env node
// The `retort` executable. retort ships TypeScript sources: the CLI runs from a cached JavaScript
// build of them (compiled-cli.mjs); where none can be built, the tsx loader is registered before
// anything else is imported and the sources are loaded as they are.
import { compiledMain } from "./compiled-cli.mjs";

let main = await compiledMain();
if (!main) {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("./main.ts"));
}
process.exitCode = await main(process.argv.slice(2));
