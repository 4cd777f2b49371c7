// S3 on loopback for the fleet's tests: s3rver (a dev dependency) on a random port, its objects in
// a scratch directory, the buckets created up front, and AWS_ENDPOINT_URL_S3 pointing the SDK at
// it, so the handlers' own client (functions/s3-objects.ts, path-style) reaches it.
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

export interface LocalS3 {
  /** `http://127.0.0.1:PORT`: the value of AWS_ENDPOINT_URL_S3 while it runs. */
  readonly url: string;
  get(bucket: string, key: string): Promise<string>;
  put(bucket: string, key: string, body: string): Promise<void>;
  /** The bucket's keys under `prefix`, sorted. */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  close(): Promise<void>;
}

interface S3rver {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

/** s3rver knows the access keys registered with it (S3RVER); the handlers sign with the harness's dummy one. */
const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };

export async function startLocalS3(buckets: readonly string[]): Promise<LocalS3> {
  const S3rver = require("s3rver") as new (options: Record<string, unknown>) => S3rver;
  (require("s3rver/lib/models/account") as { DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void } }).DUMMY_ACCOUNT.createKeyPair(
    CREDENTIALS.accessKeyId,
    CREDENTIALS.secretAccessKey,
  );
  const directory = await mkdtemp(path.join(tmpdir(), "retort-s3-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = await server.run();
  const url = `http://127.0.0.1:${port}`;
  const previous = process.env["AWS_ENDPOINT_URL_S3"];
  process.env["AWS_ENDPOINT_URL_S3"] = url;
  const client = new S3Client({ endpoint: url, forcePathStyle: true, region: "us-east-1", credentials: CREDENTIALS });
  return {
    url,
    async get(bucket, key) {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await out.Body?.transformToString("utf8")) ?? "";
    },
    async put(bucket, key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    async keys(bucket, prefix) {
      const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, ...(prefix ? { Prefix: prefix } : {}) }));
      return (out.Contents ?? []).map((o) => o.Key!).sort();
    },
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
      if (previous === undefined) delete process.env["AWS_ENDPOINT_URL_S3"];
      else process.env["AWS_ENDPOINT_URL_S3"] = previous;
    },
  };
}
