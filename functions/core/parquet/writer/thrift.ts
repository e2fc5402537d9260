/**
 * The write half of Thrift's compact protocol, as much of it as a Parquet footer and page headers
 * need: structs of i32/i64/bool/binary fields, nested structs and lists. Written by hand so the
 * writer has no Thrift runtime and no generated code.
 */
import { ByteWriter } from "./byte-writer.ts";

/** Compact-protocol type ids as they appear in field and list headers. */
export const CompactType = {
  TRUE: 1,
  FALSE: 2,
  BYTE: 3,
  I16: 4,
  I32: 5,
  I64: 6,
  DOUBLE: 7,
  BINARY: 8,
  LIST: 9,
  SET: 10,
  MAP: 11,
  STRUCT: 12,
} as const;

const utf8 = new TextEncoder();

/**
 * Writes one Thrift struct (and whatever it nests). Fields must be written in increasing id order
 * within each struct, which is what the short delta form of field headers relies on.
 */
export class CompactWriter {
  private lastId = 0;
  private readonly outer: number[] = [];

  constructor(readonly out: ByteWriter = new ByteWriter(256)) {}

  private field(id: number, type: number): void {
    const delta = id - this.lastId;
    if (delta > 0 && delta <= 15) {
      this.out.u8((delta << 4) | type);
    } else {
      this.out.u8(type);
      this.out.varint(zigzag(id));
    }
    this.lastId = id;
  }

  i32(id: number, v: number): void {
    this.field(id, CompactType.I32);
    this.out.varint(zigzag(v));
  }

  i16(id: number, v: number): void {
    this.field(id, CompactType.I16);
    this.out.varint(zigzag(v));
  }

  /** An i64 field from a JS number: exact for the sizes, offsets and counts a footer holds. */
  i64(id: number, v: number): void {
    this.field(id, CompactType.I64);
    this.out.varint(zigzag(v));
  }

  /** Thrift's i8, which Parquet uses for IntType.bitWidth. */
  byte(id: number, v: number): void {
    this.field(id, CompactType.BYTE);
    this.out.u8(v & 0xff);
  }

  bool(id: number, v: boolean): void {
    this.field(id, v ? CompactType.TRUE : CompactType.FALSE);
  }

  binary(id: number, bytes: Uint8Array): void {
    this.field(id, CompactType.BINARY);
    this.out.varint(bytes.length);
    this.out.bytes(bytes);
  }

  string(id: number, s: string): void {
    this.binary(id, utf8.encode(s));
  }

  /** Opens a struct-valued field; close it with `end()`. */
  struct(id: number): void {
    this.field(id, CompactType.STRUCT);
    this.enter();
  }

  /** Opens a list field of `size` elements of `type`; write them with the element methods. */
  list(id: number, type: number, size: number): void {
    this.field(id, CompactType.LIST);
    if (size < 15) {
      this.out.u8((size << 4) | type);
    } else {
      this.out.u8(0xf0 | type);
      this.out.varint(size);
    }
  }

  /** A struct element of a list; close it with `end()`. */
  element(): void {
    this.enter();
  }

  i32Element(v: number): void {
    this.out.varint(zigzag(v));
  }

  stringElement(s: string): void {
    const bytes = utf8.encode(s);
    this.out.varint(bytes.length);
    this.out.bytes(bytes);
  }

  /** Closes the innermost open struct (or the message itself when none is open). */
  end(): void {
    this.out.u8(0);
    this.lastId = this.outer.pop() ?? 0;
  }

  private enter(): void {
    this.outer.push(this.lastId);
    this.lastId = 0;
  }
}

/** Zigzag of a safe integer, in floating point so 64-bit fields need no BigInt. */
export function zigzag(v: number): number {
  if (!Number.isSafeInteger(v) || Math.abs(v) > 2 ** 52) {
    throw new RangeError(`thrift integer out of range: ${v}`);
  }
  return v >= 0 ? v * 2 : -v * 2 - 1;
}
