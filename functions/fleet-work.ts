// The fleet's work bucket, used when the state machine fans out with a Distributed Map (its targets
// and results would not fit the execution's 256 KiB state). One folder per execution:
//
//   retort-fleet/<execution name>/targets.json          the checked targets, one JSON array: written
//                                                       by ReadTargets, read by the Map's ItemReader
//   retort-fleet/<execution name>/results/<map run id>/ the Map's ResultWriter: manifest.json and
//                                                       SUCCEEDED_n.json, FAILED_n.json, PENDING_n.json
//   retort-fleet/<execution name>/summary.json          the whole summary, written by Summarize
//
// Summarize reads the results as the Step Functions guide documents the ResultWriter's export
// (Transformation NONE, the default): the manifest lists the result files by status; each file is
// a JSON array of child executions, a succeeded one's `Output` the JSON text of its target's
// summary line. A child that failed, timed out or was aborted (FAILED) and one never started
// (PENDING) become failed lines, so every target is counted.
import { RetortError } from "../lib/errors.ts";
import { type FleetTargetResult, targetResult } from "../lib/fleet/summary.ts";
import type { FleetTarget } from "../lib/fleet/targets.ts";
import { FLEET_WORK_PREFIX } from "./constants.ts";
import type { ObjectStore } from "./s3-objects.ts";

/** Where an execution keeps its objects: the state machine passes it to ReadTargets and Summarize. */
export interface WorkLocation {
  bucket: string;
  /** $$.Execution.Name: unique within the state machine, and without "/". */
  executionName: string;
}

export interface S3Location {
  bucket: string;
  key: string;
}

/** An execution's keys. */
export function workKeys(executionName: string) {
  const folder = `${FLEET_WORK_PREFIX}/${executionName}`;
  return { targets: `${folder}/targets.json`, results: `${folder}/results`, summary: `${folder}/summary.json` };
}

/** Results a Distributed Map's ResultWriter exported that Summarize cannot read. */
export class MapResultsError extends RetortError {
  override readonly code: string = "fleet-results-unreadable";
  override name = "MapResultsError";
}

/** What a Distributed Map with a ResultWriter answers: where its manifest is. */
export interface MapRunOutput {
  MapRunArn?: string;
  ResultWriterDetails: { Bucket: string; Key: string };
}

/** A child execution as a result file records it; only these fields are read. */
interface ChildExecution {
  Name?: string;
  Status?: string;
  /** The item as the child received it (the Map's ItemSelector applied), JSON text. */
  Input?: string;
  /** The child's output (the target's summary line), JSON text: SUCCEEDED only. */
  Output?: string;
  Error?: string;
  Cause?: string;
}

const STATUSES = ["SUCCEEDED", "FAILED", "PENDING"] as const;

/** Every target's summary line from a Map Run's exported results, in the manifest's order. */
export async function readMapResults(objects: ObjectStore, run: MapRunOutput): Promise<FleetTargetResult[]> {
  const { Bucket: bucket, Key: key } = run.ResultWriterDetails;
  const manifest = parseJson(await objects.get(bucket, key), `s3://${bucket}/${key}`) as { ResultFiles?: Record<string, unknown> };
  const files = manifest?.ResultFiles;
  if (typeof files !== "object" || files === null) throw new MapResultsError(`s3://${bucket}/${key}: a Map Run's manifest lists its ResultFiles; this one does not`);
  const lines: FleetTargetResult[] = [];
  for (const status of STATUSES) {
    for (const file of (files[status] ?? []) as { Key: string }[]) {
      const where = `s3://${bucket}/${file.Key}`;
      const children = parseJson(await objects.get(bucket, file.Key), where);
      if (!Array.isArray(children)) throw new MapResultsError(`${where}: a result file is a JSON array of child executions`);
      for (const child of children as ChildExecution[]) lines.push(status === "SUCCEEDED" ? succeededLine(child, where) : failedLine(child, status));
    }
  }
  return lines;
}

function succeededLine(child: ChildExecution, where: string): FleetTargetResult {
  const line = parseJson(child.Output ?? "", `${where}: child execution ${child.Name ?? "?"}'s Output`) as Partial<FleetTargetResult> | null;
  if (typeof line?.name !== "string" || typeof line.status !== "string") {
    throw new MapResultsError(`${where}: child execution ${child.Name ?? "?"}'s Output is not a target's summary line`);
  }
  return line as FleetTargetResult;
}

/** A child that did not answer (FAILED: failed, timed out, aborted; PENDING: never started): a failed line naming why. */
function failedLine(child: ChildExecution, status: "FAILED" | "PENDING"): FleetTargetResult {
  let target: FleetTarget | undefined;
  try {
    target = (JSON.parse(child.Input ?? "") as { target?: FleetTarget }).target;
  } catch {
    // No input recorded: the line is named after the child execution.
  }
  const named = typeof target?.name === "string" ? target : { name: child.Name ?? "?", db: "" };
  const error =
    status === "PENDING"
      ? { code: "not-started", message: "the Map Run ended before this target's child execution started" }
      : { code: child.Error ?? child.Status ?? "failed", message: child.Cause ?? `child execution ${child.Name ?? "?"} ended ${child.Status ?? "FAILED"}` };
  return targetResult(named, { error }, 0);
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new MapResultsError(`${where}: not JSON (${(error as Error).message})`);
  }
}
