// Describing an AWS SDK failure for messages, kept apart from the SDK clients so that code that
// only reports errors does not load an SDK.

/** A short description of an SDK failure for messages: its name and message. */
export function describeAwsError(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return e?.name && e.message ? `${e.name}: ${e.message}` : String(error);
}
