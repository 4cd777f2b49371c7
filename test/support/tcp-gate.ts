// A TCP proxy that can stop one message on its way to the server: the first client bytes that
// contain `marker` are held (that connection's later bytes queue behind them) until release().
// It stands for a runner frozen or cut off between its last lease check and its commit arriving,
// which no process-level signal can hit deterministically. Other connections flow freely.
import { connect, createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface TcpGate {
  readonly port: number;
  /** Resolves when a message with the marker has been stopped. */
  readonly held: Promise<void>;
  /** Lets the held bytes (and what queued behind them) through. */
  release(): void;
  close(): Promise<void>;
}

export async function startTcpGate(target: { host: string; port: number }, marker: string): Promise<TcpGate> {
  let triggered = false;
  let onHeld!: () => void;
  const held = new Promise<void>((resolve) => (onHeld = resolve));
  const releases: (() => void)[] = [];
  let released = false;
  const sockets = new Set<Socket>();

  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let queue: Buffer[] | undefined;
    let tail = "";
    upstream.pipe(client);
    client.on("data", (chunk: Buffer) => {
      if (queue) return void queue.push(chunk);
      const text = tail + chunk.toString("latin1");
      tail = text.slice(-marker.length);
      if (!triggered && !released && text.includes(marker)) {
        triggered = true;
        queue = [chunk];
        releases.push(() => {
          for (const c of queue ?? []) upstream.write(c);
          queue = undefined;
        });
        onHeld();
        return;
      }
      upstream.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    held,
    release() {
      released = true;
      for (const r of releases.splice(0)) r();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
