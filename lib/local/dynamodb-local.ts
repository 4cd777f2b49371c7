// DynamoDB on loopback for tests, benchmarks and local runs: dynalite (in memory), behind a small
// HTTP front that can inject faults (throttling, 5xx, before or after the write took effect) and
// logs every call. dynalite predates ReturnValuesOnConditionCheckFailure, so it is taught that one
// parameter here: a failed condition returns the item as it was, as DynamoDB does. It has no
// TransactWriteItems and no TTL API; retort needs neither. Point the SDK at it with
// AWS_ENDPOINT_URL_DYNAMODB=<url>.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import path from "node:path";

export type DynamoFaultKind = "throttle" | "5xx";

export interface DynamoFaultSpec {
  /** The operation to fail ("UpdateItem", "GetItem", ...). @default every operation */
  operation?: string;
  error: DynamoFaultKind;
  /** Fail from the nth matching call on. @default 1 */
  nth?: number;
  /** How many calls to fail. @default 1 */
  times?: number;
  /** Run the call, then answer with the fault: the write happened but the caller cannot know. */
  afterExecuting?: boolean;
}

export interface DynamoCall {
  operation: string;
  fault?: DynamoFaultKind;
}

export interface LocalDynamo {
  /** `http://127.0.0.1:PORT`: the value for AWS_ENDPOINT_URL_DYNAMODB. */
  readonly url: string;
  readonly port: number;
  /** Every call answered, in order. */
  readonly calls: DynamoCall[];
  inject(spec: DynamoFaultSpec): { readonly fired: number };
  clearFaults(): void;
  close(): Promise<void>;
}

interface Rule {
  spec: DynamoFaultSpec;
  seen: number;
  fired: number;
}

const FAULTS: Record<DynamoFaultKind, { status: number; type: string; message: string }> = {
  throttle: {
    status: 400,
    type: "com.amazonaws.dynamodb.v20120810#ThrottlingException",
    message: "Rate of requests exceeds the allowed throughput.",
  },
  "5xx": { status: 500, type: "com.amazonaws.dynamodb.v20120810#InternalServerError", message: "Internal server error" },
};

let patched = false;

/** Loads dynalite (a dev dependency, so only when used) and teaches it ALL_OLD on condition failure. */
function loadDynalite(): (options: Record<string, unknown>) => Server {
  const require = createRequire(import.meta.url);
  const main = require.resolve("dynalite");
  const dynalite = require(main) as (options: Record<string, unknown>) => Server;
  if (!patched) {
    patched = true;
    const base = path.dirname(main);
    for (const action of ["putItem", "updateItem", "deleteItem"]) {
      const validation = require(path.join(base, "validations", `${action}.js`)) as { types: Record<string, unknown> };
      validation.types["ReturnValuesOnConditionCheckFailure"] ??= { type: "String", enum: ["ALL_OLD", "NONE"] };
    }
    const db = require(path.join(base, "db", "index.js")) as {
      checkConditional: (data: Record<string, unknown>, existing: unknown) => { body: Record<string, unknown> } | null | undefined;
    };
    const check = db.checkConditional;
    db.checkConditional = (data, existing) => {
      const error = check(data, existing);
      if (error && existing && data["ReturnValuesOnConditionCheckFailure"] === "ALL_OLD") error.body["Item"] = existing;
      return error;
    };
  }
  return dynalite;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

function body(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

export async function startLocalDynamo(options: { port?: number } = {}): Promise<LocalDynamo> {
  const backend = loadDynalite()({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const backendPort = await listen(backend, 0);
  const rules: Rule[] = [];
  const calls: DynamoCall[] = [];

  const match = (operation: string): DynamoFaultSpec | undefined => {
    let chosen: DynamoFaultSpec | undefined;
    for (const rule of rules) {
      if (rule.spec.operation && rule.spec.operation !== operation) continue;
      rule.seen += 1;
      if (!chosen && rule.seen >= (rule.spec.nth ?? 1) && rule.fired < (rule.spec.times ?? 1)) {
        rule.fired += 1;
        chosen = rule.spec;
      }
    }
    return chosen;
  };

  const forward = (req: IncomingMessage, payload: Buffer) =>
    new Promise<{ status: number; headers: IncomingMessage["headers"]; body: Buffer }>((resolve, reject) => {
      const out = request(
        { host: "127.0.0.1", port: backendPort, method: req.method, path: req.url, headers: req.headers },
        async (res) => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: await body(res) }),
      );
      out.on("error", reject);
      out.end(payload);
    });

  const answerFault = (res: ServerResponse, kind: DynamoFaultKind) => {
    const fault = FAULTS[kind];
    res.writeHead(fault.status, { "content-type": "application/x-amz-json-1.0", "x-amzn-errortype": fault.type.split("#")[1]! });
    res.end(JSON.stringify({ __type: fault.type, message: fault.message }));
  };

  const front = createServer(async (req, res) => {
    try {
      const payload = await body(req);
      const operation = String(req.headers["x-amz-target"] ?? "").split(".")[1] ?? "unknown";
      const fault = match(operation);
      calls.push(fault ? { operation, fault: fault.error } : { operation });
      if (fault && !fault.afterExecuting) return answerFault(res, fault.error);
      const answer = await forward(req, payload);
      if (fault) return answerFault(res, fault.error);
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    } catch (error) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(error));
    }
  });
  const port = await listen(front, options.port ?? 0);
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    calls,
    inject(spec) {
      const rule: Rule = { spec, seen: 0, fired: 0 };
      rules.push(rule);
      return {
        get fired() {
          return rule.fired;
        },
      };
    },
    clearFaults() {
      rules.length = 0;
    },
    async close() {
      await Promise.all([close(front), close(backend)]);
    },
  };
}
