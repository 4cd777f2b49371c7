#!/usr/bin/env node
// The `retort` executable: the compiled CLI in dist/ (`npm run build` writes it).
import module from "node:module";

// Node 22.1+: V8 keeps the compiled code of the CLI and the migrations between runs (a no-op on
// older Node); turned on first, so it covers everything imported below.
module.enableCompileCache?.();
const { main } = await import("../dist/cli.js");
process.exitCode = await main(process.argv.slice(2));
// The command is done. Whatever a migration left behind (a timer, a socket) must not keep the
// process alive: end it once what was written has been handed to the OS.
await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))));
process.exit();
