import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import net from "node:net";

/** A backend emulator running as a child process. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** True until the process exits. */
  readonly running: boolean;
  /** Last lines the process wrote, for error messages. */
  outputTail(): string;
  /** Resolves once the process has exited, with its exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: readonly string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** How long stop() waits after SIGTERM before SIGKILL. @default 5000 */
  stopGraceMs?: number;
  /** Called with each non-empty line the process writes to stdout or stderr. */
  onLine?: (line: string) => void;
}

const TAIL_LINES = 30;
const DEFAULT_STOP_GRACE_MS = 5_000;

const live = new Set<ChildProcess>();
let hooksInstalled = false;
let pdeathsigSupport: boolean | undefined;

/**
 * Children must not outlive us. `setpriv --pdeathsig` makes the kernel signal them even when we are
 * SIGKILLed (which no JS handler can see); it's checked once because it's Linux/util-linux only.
 */
function hasPdeathsig(): boolean {
  if (pdeathsigSupport === undefined) {
    const probe = spawnSync("setpriv", ["--pdeathsig", "TERM", "true"], { stdio: "ignore" });
    pdeathsigSupport = probe.status === 0;
  }
  return pdeathsigSupport;
}

const cleanups = new Set<() => void>();

function killAllSync(): void {
  for (const child of live) {
    child.kill("SIGTERM");
  }
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // Best effort while the process is going down.
    }
  }
  cleanups.clear();
}

/**
 * Runs `cleanup` synchronously if the process exits or is signalled before the returned function
 * is called (e.g. removing a temp dir that stop() would have removed).
 */
export function registerCleanup(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  installHooks();
  return () => {
    cleanups.delete(cleanup);
    removeHooksIfIdle();
  };
}

function removeHooksIfIdle(): void {
  if (live.size === 0 && cleanups.size === 0) removeHooks();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllSync();
  // Listening to a signal disables Node's default "terminate"; if nobody else handles it, restore
  // that behaviour so Ctrl-C still ends a process that merely started a stack.
  if (process.listenerCount(signal) === 1) {
    removeHooks();
    process.kill(process.pid, signal);
  }
}

const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAllSync);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function removeHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.off("exit", killAllSync);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

export function spawnManaged(options: SpawnOptions): ManagedProcess {
  const [command, args] = hasPdeathsig()
    ? ["setpriv", ["--pdeathsig", "TERM", "--", options.command, ...options.args]]
    : [options.command, [...options.args]];
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: false,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const keep = (line: string): void => {
    if (line.trim() === "") return;
    options.onLine?.(line);
    lines.push(line);
    if (lines.length > TAIL_LINES) lines.shift();
  };
  /** Splits a pipe into lines; a chunk may end mid-line, so the rest waits for the next chunk. */
  const drain = (stream: NodeJS.ReadableStream | null): void => {
    let partial = "";
    // Unread pipes fill up and block the child, so always drain them.
    stream?.on("data", (chunk: Buffer) => {
      const parts = (partial + chunk.toString("utf8")).split(/\r?\n/);
      partial = parts.pop() ?? "";
      for (const line of parts) keep(line);
    });
    stream?.on("end", () => keep(partial));
  };
  drain(child.stdout);
  drain(child.stderr);

  let running = true;
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      running = false;
      live.delete(child);
      removeHooksIfIdle();
      resolve(code);
    });
    child.once("error", (error) => {
      running = false;
      live.delete(child);
      removeHooksIfIdle();
      lines.push(String(error));
      resolve(null);
    });
  });

  if (child.pid === undefined) {
    // spawn failed synchronously-ish (e.g. ENOENT); the "error" event carries the reason.
    running = false;
  } else {
    live.add(child);
    installHooks();
  }

  return {
    name: options.name,
    pid: child.pid ?? -1,
    get running() {
      return running;
    },
    outputTail: () => lines.join("\n"),
    exited,
    async stop() {
      if (!running) {
        await exited;
        return;
      }
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** A port that was free a moment ago; for servers that can't be told to pick one themselves. */
/** Listens on a free loopback port and returns it. */
export async function listenOnLoopback(server: net.Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  const port = await listenOnLoopback(server);
  server.close();
  await once(server, "close");
  return port;
}

/** Polls `probe` until it resolves true, the process dies, or the deadline passes. */
export async function waitUntilReady(
  proc: ManagedProcess,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 25;
  while (Date.now() < deadline) {
    if (!proc.running) {
      const code = await proc.exited;
      throw new Error(`${proc.name} exited (code ${code}) before it was ready\n${proc.outputTail()}`);
    }
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 200);
  }
  throw new Error(`${proc.name} was not ready after ${timeoutMs} ms\n${proc.outputTail()}`);
}

/** POSTs an AWS JSON call; a 200 means the backend is serving. */
export async function jsonCallOk(url: string, target: string, service: string): Promise<boolean> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": target,
      "x-amz-date": amzDate(new Date()),
      authorization: `AWS4-HMAC-SHA256 Credential=test/${amzDate(new Date()).slice(0, 8)}/us-east-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=0`,
    },
    body: "{}",
    signal: AbortSignal.timeout(2_000),
  });
  await response.arrayBuffer();
  return response.status === 200;
}

function amzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}
