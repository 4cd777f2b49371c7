// `npm run bench`: every benchmark, one after another, with the machine they ran on.
import { benchGraph } from "./graph.ts";
import { machine } from "./report.ts";
import { benchRoundTrips } from "./round-trips.ts";

console.log(`retort benchmarks on ${machine()}`);
await benchGraph();
await benchRoundTrips();
