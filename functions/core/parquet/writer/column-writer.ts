/**
 * One column chunk: a leaf's values for a range of rows as an optional dictionary page and data
 * pages (v1: repetition levels, definition levels, values), each compressed on its own, plus the
 * chunk's metadata for the footer.
 */
import { ByteWriter } from "./byte-writer.ts";
import type { Compress } from "./codec.ts";
import { buildDictionary, chunkDictionary, type Dictionary } from "./dictionary.ts";
import {
  type ColumnChunk,
  Encoding,
  type PageEncodingStats,
  type PageHeader,
  PageType,
  writePageHeader,
} from "./format.ts";
import { computeLevels, type Levels } from "./levels.ts";
import { plainSize, writePlain } from "./plain.ts";
import { bitWidth, writeHybrid, writeRun } from "./rle.ts";
import type { Leaf } from "./schema.ts";
import { columnStatistics } from "./statistics.ts";
import { CompactWriter } from "./thrift.ts";
import type { PrimitiveColumn } from "./types.ts";

/** Target uncompressed size of a data page's values. */
export const PAGE_BYTES = 1 << 20;
/** A dictionary page past this size is abandoned and the chunk written PLAIN. */
export const DICTIONARY_BYTES = 1 << 20;

/** Where pages go: the file being written. */
export interface PageSink {
  /** Bytes written so far, i.e. the file offset of the next write. */
  readonly size: number;
  /** Copies `bytes` (often scratch memory) to the end of the file. */
  write(bytes: Uint8Array): void;
}

export interface ChunkOptions {
  readonly compress: Compress | undefined;
  readonly codec: number;
  readonly pageBytes: number;
  readonly dictionaryBytes: number;
}

const body = new ByteWriter(PAGE_BYTES + 65536);
const header = new ByteWriter(256);

interface Written {
  /** Header plus body, before and after compression. */
  uncompressed: number;
  compressed: number;
}

function writePage(sink: PageSink, h: PageHeader, page: Uint8Array, options: ChunkOptions): Written {
  const data = options.compress ? options.compress(page) : page;
  header.reset();
  writePageHeader(new CompactWriter(header), {
    ...h,
    uncompressedSize: page.length,
    compressedSize: data.length,
  });
  sink.write(header.written());
  sink.write(data);
  return { uncompressed: header.pos + page.length, compressed: header.pos + data.length };
}

/**
 * Appends levels with their 4-byte length prefix (data page v1). `levels` undefined: all are
 * `max`, one run.
 */
function writeLevels(
  out: ByteWriter,
  levels: Uint8Array | undefined,
  from: number,
  to: number,
  max: number,
): void {
  out.ensure(4);
  const at = out.pos;
  out.pos += 4;
  if (levels === undefined) writeRun(out, to - from, max, (bitWidth(max) + 7) >> 3);
  else writeHybrid(out, levels, from, to, bitWidth(max));
  out.view.setUint32(at, out.pos - at - 4, true);
}

export function writeColumnChunk(
  sink: PageSink,
  leaf: Leaf,
  from: number,
  to: number,
  options: ChunkOptions,
): ColumnChunk {
  const data = leaf.chain[leaf.chain.length - 1] as PrimitiveColumn;
  const levels = computeLevels(leaf.chain, from, to);
  const { index, base, valueCount } = levels;
  // A column encoded already has its chunk dictionary for the cost of a remap, and needs it for
  // statistics (its data are distinct values, not slots) even when the chunk is written PLAIN.
  const distinct =
    data.kind === "utf8" && data.indices !== undefined && valueCount > 0
      ? chunkDictionary(data.offsets, data.bytes, data.indices, index, base, valueCount)
      : undefined;
  let dict: Dictionary | undefined;
  if (leaf.input.dictionary && distinct !== undefined) {
    dict = distinct.page.length <= options.dictionaryBytes ? distinct : undefined;
  } else if (leaf.input.dictionary && valueCount > 0) {
    dict = buildDictionary(data, index, base, valueCount, options.dictionaryBytes);
  }
  const known = dict ?? distinct;
  const statistics = leaf.input.statistics
    ? known
      ? columnStatistics(data, known.firsts, 0, known.size, levels.count - valueCount)
      : columnStatistics(data, index, base, valueCount, levels.count - valueCount)
    : undefined;

  let uncompressed = 0;
  let compressed = 0;
  const add = (w: Written): void => {
    uncompressed += w.uncompressed;
    compressed += w.compressed;
  };
  const encodingStats: PageEncodingStats[] = [];
  let dictionaryPageOffset: number | undefined;
  if (dict) {
    dictionaryPageOffset = sink.size;
    add(
      writePage(
        sink,
        { type: PageType.DICTIONARY_PAGE, uncompressedSize: 0, compressedSize: 0, numValues: dict.size },
        dict.page,
        options,
      ),
    );
    encodingStats.push({ pageType: PageType.DICTIONARY_PAGE, encoding: Encoding.PLAIN, count: 1 });
  }

  const dataPageOffset = sink.size;
  const pages = writeDataPages(sink, leaf, levels, data, dict, options);
  add(pages);
  const valueEncoding = dict ? Encoding.RLE_DICTIONARY : Encoding.PLAIN;
  encodingStats.push({ pageType: PageType.DATA_PAGE, encoding: valueEncoding, count: pages.count });

  return {
    fileOffset: dictionaryPageOffset ?? dataPageOffset,
    meta: {
      type: leaf.physicalType,
      encodings: dict
        ? [Encoding.PLAIN, Encoding.RLE, Encoding.RLE_DICTIONARY]
        : [Encoding.PLAIN, Encoding.RLE],
      path: leaf.path,
      codec: options.codec,
      numValues: levels.count,
      totalUncompressedSize: uncompressed,
      totalCompressedSize: compressed,
      dataPageOffset,
      dictionaryPageOffset,
      statistics,
      encodingStats,
    },
  };
}

function writeDataPages(
  sink: PageSink,
  leaf: Leaf,
  levels: Levels,
  data: PrimitiveColumn,
  dict: Dictionary | undefined,
  options: ChunkOptions,
): Written & { count: number } {
  const { count, def, rep, index, base, valueCount } = levels;
  const { maxDef, maxRep } = leaf;
  const indexWidth = dict ? Math.max(1, bitWidth(dict.size - 1)) : 0;
  const valueBytes = dict
    ? Math.ceil((valueCount * indexWidth) / 8)
    : plainSize(data, index, base, 0, valueCount);
  // Pages hold about the same number of values each; they end on a row boundary.
  const perPage =
    valueBytes <= options.pageBytes
      ? valueCount
      : Math.max(1, Math.floor((valueCount * options.pageBytes) / valueBytes));
  const total = { uncompressed: 0, compressed: 0, count: 0 };
  let s = 0;
  let v = 0;
  do {
    const s0 = s;
    const v0 = v;
    const target = v0 + perPage;
    if (perPage >= valueCount) {
      s = count;
      v = valueCount;
    } else if (def === undefined) {
      s = Math.min(count, target);
      v = s;
    } else if (rep === undefined) {
      while (s < count && v < target) {
        if (def[s] === maxDef) v++;
        s++;
      }
    } else {
      while (s < count && (v < target || rep[s] !== 0)) {
        if (def![s] === maxDef) v++;
        s++;
      }
    }
    body.reset();
    if (maxRep > 0) writeLevels(body, rep!, s0, s, maxRep);
    writeLevels(body, def, s0, s, maxDef);
    if (dict) {
      body.u8(indexWidth);
      writeHybrid(body, dict.indices, v0, v, indexWidth);
    } else {
      writePlain(body, data, index, base, v0, v);
    }
    const w = writePage(
      sink,
      {
        type: PageType.DATA_PAGE,
        uncompressedSize: 0,
        compressedSize: 0,
        numValues: s - s0,
        encoding: dict ? Encoding.RLE_DICTIONARY : Encoding.PLAIN,
      },
      body.written(),
      options,
    );
    total.uncompressed += w.uncompressed;
    total.compressed += w.compressed;
    total.count++;
  } while (s < count);
  return total;
}
