// `npm run bench`: every benchmark, one after another, with the machine they ran on.
import { benchGraph } from "./graph.ts";
import { machine } from "./report.ts";

console.log(`retort benchmarks on ${machine()}`);
await benchGraph();
