/**
 * An index of a compiled FileDescriptorSet (what `protoc --descriptor_set_out` writes): each
 * file's bytes as protoc made them, its imports, and the symbols it defines. Server reflection
 * answers from it. Only the few descriptor fields that name things are read, with a minimal
 * protobuf wire reader, so reflection needs no second protobuf runtime.
 */

export interface DescriptorFile {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly dependencies: readonly string[];
  /** Fully-qualified names: messages (nested too), enums, services and their methods. */
  readonly symbols: readonly string[];
  readonly services: readonly string[];
}

type Field = { readonly number: number; readonly bytes?: Uint8Array; readonly varint?: number };

function* readFields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= buf.length) throw new Error("truncated varint in a descriptor");
      const byte = buf[pos++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error("malformed varint in a descriptor");
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) yield { number, varint: varint() };
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const length = varint();
      if (pos + length > buf.length) throw new Error("truncated field in a descriptor");
      yield { number, bytes: buf.subarray(pos, pos + length) };
      pos += length;
    } else throw new Error(`unsupported wire type ${wire} in a descriptor`);
  }
}

const decoder = new TextDecoder();
const text = (f: Field) => decoder.decode(f.bytes);

function nameOf(buf: Uint8Array): string {
  for (const f of readFields(buf)) if (f.number === 1 && f.bytes) return text(f);
  return "";
}

/** DescriptorProto: name 1, nested_type 3, enum_type 4. */
function messageSymbols(buf: Uint8Array, scope: string, out: string[]): void {
  const name = `${scope}${nameOf(buf)}`;
  out.push(name);
  for (const f of readFields(buf)) {
    if (f.number === 3 && f.bytes) messageSymbols(f.bytes, `${name}.`, out);
    else if (f.number === 4 && f.bytes) out.push(`${name}.${nameOf(f.bytes)}`);
  }
}

/** FileDescriptorProto: name 1, package 2, dependency 3, message_type 4, enum_type 5, service 6. */
export function describeFile(bytes: Uint8Array): DescriptorFile {
  let name = "";
  let pkg = "";
  const dependencies: string[] = [];
  const parts: Field[] = [];
  for (const f of readFields(bytes)) {
    if (f.number === 1 && f.bytes) name = text(f);
    else if (f.number === 2 && f.bytes) pkg = text(f);
    else if (f.number === 3 && f.bytes) dependencies.push(text(f));
    else if (f.bytes && f.number >= 4 && f.number <= 6) parts.push(f);
  }
  const scope = pkg ? `${pkg}.` : "";
  const symbols: string[] = [];
  const services: string[] = [];
  for (const f of parts) {
    if (f.number === 4) messageSymbols(f.bytes!, scope, symbols);
    else if (f.number === 5) symbols.push(`${scope}${nameOf(f.bytes!)}`);
    else {
      const service = `${scope}${nameOf(f.bytes!)}`;
      services.push(service);
      symbols.push(service);
      for (const m of readFields(f.bytes!))
        if (m.number === 2 && m.bytes) symbols.push(`${service}.${nameOf(m.bytes)}`);
    }
  }
  return { name, bytes, dependencies, symbols, services };
}

export class DescriptorIndex {
  private readonly byName = new Map<string, DescriptorFile>();
  private readonly bySymbol = new Map<string, DescriptorFile>();

  /** From a serialized FileDescriptorSet (field 1: repeated FileDescriptorProto). */
  constructor(descriptorSet: Uint8Array) {
    for (const f of readFields(descriptorSet)) {
      if (f.number !== 1 || !f.bytes) continue;
      const file = describeFile(f.bytes);
      this.byName.set(file.name, file);
      for (const symbol of file.symbols) this.bySymbol.set(symbol, file);
    }
  }

  get files(): readonly DescriptorFile[] {
    return [...this.byName.values()];
  }

  fileByName(name: string): DescriptorFile | undefined {
    return this.byName.get(name);
  }

  fileBySymbol(symbol: string): DescriptorFile | undefined {
    return this.bySymbol.get(symbol.replace(/^\./, ""));
  }

  /** The file, then every file it imports, transitively, each once. */
  withDependencies(file: DescriptorFile): Uint8Array[] {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const visit = (f: DescriptorFile) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      out.push(f.bytes);
      for (const dep of f.dependencies) {
        const d = this.byName.get(dep);
        if (d) visit(d);
      }
    };
    visit(file);
    return out;
  }
}
