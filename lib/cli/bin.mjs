#!/usr/bin/env node
// The `retort` executable. retort ships TypeScript sources and loads the user's TypeScript
// migrations, so the tsx loader is registered before anything else is imported.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./main.ts");
process.exitCode = await main(process.argv.slice(2));
