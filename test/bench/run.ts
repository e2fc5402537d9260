/**
 * `npm run bench -- <name> [options]`: benchmarks that compare Sluice with peers measured in the
 * same run and print ratios. Speed is never asserted in tests; it is reported here.
 */
import { benchColdstart } from "./coldstart.ts";
import { benchEncode } from "./encode.ts";
import { benchGrpc } from "./grpc.ts";
import { benchIceberg } from "./iceberg.ts";
import { benchIngest } from "./ingest.ts";
import { benchRead } from "./read.ts";
import { benchSend } from "./send.ts";

const benches: Record<string, (args: string[]) => Promise<void>> = {
  encode: benchEncode,
  coldstart: benchColdstart,
  ingest: benchIngest,
  grpc: benchGrpc,
  read: benchRead,
  send: benchSend,
  iceberg: benchIceberg,
};

const [name, ...args] = process.argv.slice(2);
const bench = name ? benches[name] : undefined;
if (!bench) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join("|")}> [options]\n`);
  process.exit(2);
}
await bench(args);
