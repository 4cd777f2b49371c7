// The manual invoke (`aws lambda invoke --payload '{"command": "status"}'`) over the example
// migrations bundled the way the generated entry bundles them, against the local Data API
// endpoint and dynalite; and the answers to events the runner cannot act on.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../../functions/constants.ts";
import { ValidationError } from "../../functions/manual.ts";
import { type BundledMigration, importBundle } from "../../lib/revision/bundle.ts";
import { DirectorySource } from "../../lib/revision/loader.ts";
import { handlersFor, lambdaContext, type LocalAws, startLocalAws } from "./harness.ts";

const MIGRATIONS = path.resolve("migrations");

let local: LocalAws;
let run: (event: unknown) => Promise<any>;
let logs: ReturnType<typeof handlersFor>["logs"];
let bundled: BundledMigration[];

beforeAll(async () => {
  local = await startLocalAws();
  bundled = await importBundle(MIGRATIONS);
  const built = handlersFor(local, bundled);
  logs = built.logs;
  run = (event) => built.handlers.manual(event, lambdaContext());
});
afterAll(() => local.close());

describe("the bundled migrations", () => {
  it("carry the same checksums as the files the CLI loads", async () => {
    const fromFiles = (await new DirectorySource(MIGRATIONS).load()).migrations.map((m) => [m.file, m.checksum]);
    expect(bundled.map((b) => [b.file, b.checksum])).toEqual(fromFiles);
  });
});

describe("the manual invoke", () => {
  it("check reports the graph and the bundle manifest", async () => {
    const result = await run({ command: "check" });
    expect(result).toMatchObject({ ok: true, revisions: bundled.length, problems: [] });
    expect(result.bundle.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(result.bundle.migrations).toEqual(bundled.map(({ file, checksum }) => ({ file, checksum })));
  });

  it("status on an empty database lists everything as pending", async () => {
    const result = await run({ command: "status" });
    expect(result).toMatchObject({ databaseHeads: [], upToDate: false, lock: null });
    expect(result.pending).toHaveLength(bundled.length);
  });

  it("upgrade with dryRun returns the SQL and changes nothing", async () => {
    const result = await run({ command: "upgrade", dryRun: true });
    expect(result).toMatchObject({ command: "upgrade", dryRun: true, fromHeads: [] });
    expect(result.sql).toContain('CREATE TABLE IF NOT EXISTS "public"."users"');
    expect((await run({ command: "status" })).databaseHeads).toEqual([]);
  });

  it("safe-upgrade applies every revision and returns the run's result", async () => {
    const result = await run({ command: "safe-upgrade" });
    expect(result.error).toBeUndefined();
    expect(result.applied).toBe(bundled.length);
    const status = await run({ command: "status" });
    expect(status).toMatchObject({ upToDate: true, pending: [], lock: null });
  });

  it("downgrade -1 and safe-upgrade again; history lists revisions and, with runs, the audit trail", async () => {
    const down = await run({ command: "downgrade", target: "-1" });
    expect(down.results).toHaveLength(1);
    expect(down.results[0].status).toBe("applied");
    await run({ command: "safe-upgrade" });
    const revisions = await run({ command: "history" });
    expect(revisions.revisions).toHaveLength(bundled.length);
    const runs = await run({ command: "history", runs: true, limit: 5 });
    expect(runs.history).toBe("DynamoDB table retort-test-locks");
    expect(runs.runs.map((r: { command: string }) => r.command)).toEqual(["safe-upgrade", "downgrade", "safe-upgrade"]);
  });

  it("stamp records a revision without running it", async () => {
    const head = (await run({ command: "status" })).databaseHeads[0];
    const result = await run({ command: "stamp", target: head });
    expect(result).toMatchObject({ fromHeads: [head], toHeads: [head] });
  });

  it("logs the command with the request id and the fencing token, never the secret's value", async () => {
    const line = logs.lines.find((l) => l["message"] === "manual invoke" && l["command"] === "safe-upgrade");
    expect(line).toMatchObject({ function_request_id: expect.any(String), handler: "manual" });
    const done = logs.lines.filter((l) => l["message"] === "manual invoke done" && l["fencingToken"] !== undefined);
    expect(done.length).toBeGreaterThan(0);
  });
});

describe("a bad event", () => {
  const allowed = `Allowed commands: ${COMMANDS.join(", ")}`;
  it.each([
    [{}, '"command" is missing'],
    [{ command: "migrate" }, 'unknown command "migrate"'],
    ["status", "expected a JSON object, got string"],
    [{ command: "downgrade" }, '"downgrade" needs a "target"'],
    [{ command: "status", target: "heads" }, '"status" takes no other field, not "target"'],
    [{ command: "upgrade", dryRun: "yes" }, '"dryRun" must be true or false'],
  ])("%j is refused with the allowed commands", async (event, problem) => {
    const error = await run(event).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain(problem);
    expect((error as Error).message).toContain(allowed);
    expect(local.dataApi.calls.filter((c) => c.operation === "unknown")).toEqual([]);
  });
});
