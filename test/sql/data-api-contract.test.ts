// Runs the SqlExecutor contract (test/sql/contract.ts) against the Data API adapter: the real SDK
// client sends every statement over HTTP to the local Data API endpoint, in front of PGlite in
// memory and of a scratch database on the embedded PostgreSQL server.

import { PgliteExecutor } from "../../lib/sql/pglite-executor.ts";
import { postgresql, throughDataApi } from "../support/databases.ts";
import { executorContract } from "./contract.ts";

executorContract("Data API -> local endpoint -> PGlite", async () => {
  const executor = await throughDataApi(await PgliteExecutor.open());
  return { executor, close: () => executor.close() };
});

executorContract("Data API -> local endpoint -> PostgreSQL", async () => {
  const executor = await throughDataApi(await postgresql.open());
  return { executor, close: () => executor.close() };
});
