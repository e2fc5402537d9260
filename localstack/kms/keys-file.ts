/** TEST INFRASTRUCTURE ONLY: the KMS emulator's keys file, so `sluice dev` keeps its keys across restarts. */
import { readStateFile, writeStateFile } from "../state-file.ts";

export interface Key {
  readonly id: string;
  readonly arn: string;
  readonly material: Buffer;
  readonly creationDate: number;
  readonly description: string;
  /** Absent in keys files written before DisableKey existed: enabled. */
  enabled?: boolean;
}

export interface Alias {
  readonly name: string;
  readonly arn: string;
  targetKeyId: string;
  readonly creationDate: number;
  lastUpdatedDate: number;
}

interface StoredKeys {
  readonly version: 1;
  readonly keys: readonly (Omit<Key, "material"> & { readonly material: string })[];
  readonly aliases: readonly Alias[];
}

/** The keys and aliases in `file`, none when it does not exist yet. */
export function loadKeysFile(file: string): { keys: Key[]; aliases: Alias[] } {
  const stored = readStateFile(file) as StoredKeys | undefined;
  if (stored === undefined) return { keys: [], aliases: [] };
  if (stored.version !== 1 || !Array.isArray(stored.keys) || !Array.isArray(stored.aliases)) {
    throw new Error(`${file} is not a KMS emulator keys file (version 1)`);
  }
  const keys = stored.keys.map((key) => {
    const material = Buffer.from(key.material, "base64");
    if (material.length !== 32) throw new Error(`${file}: key ${key.id} has no 256-bit material`);
    return { ...key, material };
  });
  return { keys, aliases: stored.aliases.map((alias) => ({ ...alias })) };
}

/** Rewrites `file` whole: key material in the clear, so owner only. */
export function saveKeysFile(file: string, keys: readonly Key[], aliases: readonly Alias[]): void {
  const stored: StoredKeys = {
    version: 1,
    keys: keys.map((key) => ({ ...key, material: key.material.toString("base64") })),
    aliases: [...aliases],
  };
  writeStateFile(file, stored, 0o600);
}
