// `npm run bench`: every benchmark, one after another, with the machine they ran on.
import { benchBundle } from "./bundle.ts";
import { benchCliGraph } from "./cli-graph.ts";
import { benchDataApiPeers } from "./data-api-peers.ts";
import { benchFleet } from "./fleet.ts";
import { benchGraph } from "./graph.ts";
import { benchLock } from "./lock.ts";
import { benchLockWait } from "./lock-wait.ts";
import { benchPackage } from "./package.ts";
import { machine } from "./report.ts";
import { benchRoundTrips } from "./round-trips.ts";
import { benchUpgrade } from "./upgrade.ts";
import { benchValidate } from "./validate.ts";

console.log(`retort benchmarks on ${machine()}`);
await benchGraph();
await benchCliGraph();
await benchRoundTrips();
await benchUpgrade();
await benchDataApiPeers();
await benchValidate();
await benchLock();
await benchLockWait();
await benchBundle();
await benchPackage();
await benchFleet();
