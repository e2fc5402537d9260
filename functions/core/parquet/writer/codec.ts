/**
 * Page compression. ZSTD comes from node:zlib where Node has it (22.15 and later, so Lambda's
 * nodejs22.x) and otherwise from the native zstd-napi package, loaded only then; the Lambda bundle
 * leaves zstd-napi out. SNAPPY is pure JS (snappyjs), GZIP is zlib's.
 */
import { createRequire } from "node:module";
import zlib from "node:zlib";
import snappy from "snappyjs";
import { Codec } from "./format.ts";
import type { Compression } from "./types.ts";

/**
 * Level 1: on the bench's feedback text (32 MB of one column's pages) it took ~110 ms for 8.95 MB,
 * level 3 ~150 ms for 8.36 MB; dictionary- and RLE-encoded pages gain less still from level 3.
 */
export const ZSTD_LEVEL = 1;

/**
 * Compresses one page. The result may be a view of scratch memory that the next call reuses, so
 * copy it out before compressing again.
 */
export type Compress = (bytes: Uint8Array) => Uint8Array;

export class CodecUnavailableError extends Error {
  readonly code = "CODEC_UNAVAILABLE";
  constructor(
    readonly codec: Compression,
    message: string,
  ) {
    super(message);
    this.name = "CodecUnavailableError";
  }
}

export const CODEC_IDS: Record<Compression, number> = {
  zstd: Codec.ZSTD,
  snappy: Codec.SNAPPY,
  gzip: Codec.GZIP,
  none: Codec.UNCOMPRESSED,
};

type ZstdZlib = {
  zstdCompressSync?: (bytes: Uint8Array, options: { params: Record<number, number> }) => Buffer;
  constants: { ZSTD_c_compressionLevel?: number };
};

/** zstd-napi's binding: the raw context, so output goes to a reused buffer, not a fresh one a page. */
interface ZstdBinding {
  CCtx: new () => {
    setParameter(param: number, value: number): void;
    compress2(dst: Uint8Array, src: Uint8Array): number;
  };
  CParameter: { compressionLevel: number };
  compressBound(size: number): number;
}

let zstd: Compress | undefined;

function loadZstd(): Compress {
  const z = zlib as unknown as ZstdZlib;
  const native = z.zstdCompressSync;
  const levelParam = z.constants.ZSTD_c_compressionLevel;
  if (native !== undefined && levelParam !== undefined) {
    const options = { params: { [levelParam]: ZSTD_LEVEL } };
    return (bytes) => native(bytes, options);
  }
  let binding: ZstdBinding;
  try {
    // Not a static import: where zlib has zstd (Lambda) the package is neither bundled nor loaded.
    binding = createRequire(import.meta.url)("zstd-napi/binding") as ZstdBinding;
  } catch (err) {
    throw new CodecUnavailableError(
      "zstd",
      `ZSTD needs Node.js 22.15 or later (node:zlib zstd) or the zstd-napi package; this is Node.js ${process.versions.node} and zstd-napi did not load: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const cctx = new binding.CCtx();
  cctx.setParameter(binding.CParameter.compressionLevel, ZSTD_LEVEL);
  let out = new Uint8Array(0);
  return (bytes) => {
    const bound = binding.compressBound(bytes.length);
    if (out.length < bound) out = new Uint8Array(bound);
    return out.subarray(0, cctx.compress2(out, bytes));
  };
}

/** The compressor for `compression`; throws CodecUnavailableError when it cannot run here. */
export function compressor(compression: Compression): Compress | undefined {
  switch (compression) {
    case "none":
      return undefined;
    case "zstd":
      zstd ??= loadZstd();
      return zstd;
    case "snappy":
      return snappy.compress;
    case "gzip":
      return (bytes) => zlib.gzipSync(bytes);
  }
}
