// S3 objects as text, for the fleet's steps: a targets object, and the work bucket's objects of a
// Distributed Map run (fleet-work.ts). The Lambda runtime's own SDK (the construct leaves it out
// of the bundle); a local endpoint (tests, LocalStack) names buckets in the path.
import type * as S3 from "@aws-sdk/client-s3";

/** The S3 calls the fleet's steps make. */
export interface ObjectStore {
  /** The object's text. */
  get(bucket: string, key: string): Promise<string>;
  put(bucket: string, key: string, body: string): Promise<void>;
}

async function withClient<T>(call: (client: S3.S3Client, sdk: typeof S3) => Promise<T>): Promise<T> {
  const sdk = await import("@aws-sdk/client-s3");
  const env = process.env;
  const client = new sdk.S3Client({ forcePathStyle: Boolean(env["AWS_ENDPOINT_URL_S3"] ?? env["AWS_ENDPOINT_URL"]) });
  try {
    return await call(client, sdk);
  } finally {
    client.destroy();
  }
}

/** S3 through the SDK's client, its endpoint and credentials from the SDK's environment. */
export const s3Objects: ObjectStore = {
  get: (bucket, key) =>
    withClient(async (client, { GetObjectCommand }) => {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await out.Body?.transformToString("utf8")) ?? "";
    }),
  put: (bucket, key, body) =>
    withClient(async (client, { PutObjectCommand }) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/json" }));
    }),
};
