/**
 * `npm run localstack [start|stop] [--port N] [--data-dir DIR] [--persist]`: runs the embedded
 * stack in the foreground (Ctrl-C stops it), or stops one started elsewhere via its pid file.
 */
import { mkdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { CLI_DATA_DIR, PID_FILE } from "./paths.ts";
import { type EmbeddedStack, StackStartError, startEmbeddedStack } from "./stack.ts";

const USAGE = `usage: npm run localstack -- [start|stop] [--port N] [--data-dir DIR] [--persist]
  start       run Kinesis, DynamoDB, S3, KMS and Glue emulators behind one endpoint (default; Ctrl-C stops)
  stop        stop a stack started by "start" in another terminal
  --port      edge port (default: SLUICE_EDGE_PORT or 4566; 0 picks a free one)
  --data-dir  where emulators keep data (default: .sluice/localstack, which \`npm start\` persists in)
  --persist   keep streams, records, tables, objects, keys and the Glue catalog in the data dir across restarts
              (default: start empty; refused on a data dir that holds persisted state)`;

function fail(message: string, hint?: string): never {
  process.stderr.write(`error: ${message}\n${hint ? `${hint}\n` : ""}`);
  process.exit(1);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Guards against PID reuse: a stale pid file must not make us kill an unrelated process. Where
 * /proc is missing (macOS) we can't tell, and trust the file.
 */
async function isOurs(pid: number): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  if (cmdline === undefined) return process.platform !== "linux" && isAlive(pid);
  if (cmdline.includes("localstack/cli.ts") || cmdline.includes("DynamoDBLocal.jar")) return true;
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => "");
  return cmdline.includes("main.js") && cwd.endsWith("kinesis-local");
}

async function readPids(): Promise<number[]> {
  const text = await readFile(PID_FILE, "utf8").catch(() => "");
  return text
    .split(/\s+/)
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

async function waitForExit(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pids.some(isAlive)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !pids.some(isAlive);
}

async function stop(): Promise<void> {
  const pids = await readPids();
  const ours: number[] = [];
  for (const pid of pids) if (isAlive(pid) && (await isOurs(pid))) ours.push(pid);
  if (ours.length === 0) {
    await rm(PID_FILE, { force: true });
    process.stdout.write("no embedded stack is running\n");
    return;
  }
  // The first pid is the CLI: stopping it stops its backends in order. Then sweep up anything it
  // left (e.g. it had been SIGKILLed on a system without pdeathsig).
  const [main, ...backends] = ours;
  if (main !== undefined) process.kill(main, "SIGTERM");
  if (!(await waitForExit(ours, 8_000))) {
    for (const pid of backends) if (isAlive(pid)) process.kill(pid, "SIGKILL");
    await waitForExit(backends, 2_000);
  }
  await rm(PID_FILE, { force: true });
  process.stdout.write(`stopped (pids ${ours.join(", ")})\n`);
}

async function start(port: number | undefined, dataDir: string, persist: boolean): Promise<void> {
  const running = (await readPids()).filter(isAlive);
  if (running.length > 0 && (await isOurs(running[0]!))) {
    fail(
      `an embedded stack is already running (pid ${running[0]})`,
      "Stop it with: npm run localstack -- stop",
    );
  }

  const startedAt = performance.now();
  let stack: EmbeddedStack;
  try {
    stack = await startEmbeddedStack({
      port,
      dataDir,
      persist,
      log: (line) => process.stdout.write(`  ${line}\n`),
    });
  } catch (error) {
    if (error instanceof StackStartError) fail(error.message, error.hint);
    throw error;
  }
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);

  await mkdir(path.dirname(PID_FILE), { recursive: true });
  await writeFile(PID_FILE, `${[process.pid, ...stack.pids].join("\n")}\n`);

  process.stdout.write(
    [
      "",
      `Embedded stack (kinesis, dynamodb, s3, kms, glue, athena) ready at ${stack.endpoint} in ${seconds} s`,
      `Data: ${path.relative(process.cwd(), dataDir) || "."}${persist ? (stack.resumed ? " (persistent, resumed)" : " (persistent, fresh)") : " (not kept)"}`,
      "",
      "export AWS_ENDPOINT_URL=" + stack.endpoint,
      "export AWS_REGION=us-east-1",
      "export AWS_ACCESS_KEY_ID=test",
      "export AWS_SECRET_ACCESS_KEY=test",
      "export AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED",
      "",
      "Ctrl-C to stop.",
      "",
    ].join("\n"),
  );

  let stoppingSince: number | undefined;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stoppingSince !== undefined) {
      // Ctrl-C reaches npm, tsx and us at once, and tsx relays it again: only a later, deliberate
      // second Ctrl-C means "now" (the exit hooks still signal the backends).
      if (performance.now() - stoppingSince > 1_000) process.exit(signal === "SIGINT" ? 130 : 143);
      return;
    }
    stoppingSince = performance.now();
    void (async () => {
      await stack.stop();
      await rm(PID_FILE, { force: true });
      process.exit(0);
    })();
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  process.on("SIGHUP", shutdown);
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error), USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const command = positionals[0] ?? "start";
  if (positionals.length > 1) fail(`unexpected argument "${positionals[1]}"`, USAGE);
  if (command === "stop") {
    await stop();
    return;
  }
  if (command !== "start") fail(`unknown command "${command}"`, USAGE);

  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      fail(`--port ${values.port} is not a port number`, USAGE);
  }
  const dataDir = values["data-dir"] ? path.resolve(values["data-dir"]) : CLI_DATA_DIR;
  await start(port, dataDir, values.persist === true);
}

function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      port: { type: "string", short: "p" },
      "data-dir": { type: "string" },
      persist: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

await main();
