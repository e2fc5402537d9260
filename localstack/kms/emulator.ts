/**
 * TEST INFRASTRUCTURE ONLY: a KMS emulator for the embedded stack, because no KMS emulator is
 * reachable from the package registries here. The crypto is real (AES-256-GCM), but master keys
 * live in memory of the emulator process and vanish with it, or, with a keys file, sit on disk in
 * the clear (mode 0600). Never point real data at it.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from "node:crypto";
import { AwsJsonError, type JsonObject } from "../aws-json-server.ts";
import { readStateFile, writeStateFile } from "../state-file.ts";

export const ACCOUNT_ID = "000000000000";
const MAX_PLAINTEXT_BYTES = 4096;
const BLOB_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A KMS error: `{ "__type": name, "message": ... }`, HTTP 400 unless said. */
export class KmsError extends AwsJsonError {}

interface Key {
  readonly id: string;
  readonly arn: string;
  readonly material: Buffer;
  readonly creationDate: number;
  readonly description: string;
}

interface Alias {
  readonly name: string;
  readonly arn: string;
  targetKeyId: string;
  readonly creationDate: number;
  lastUpdatedDate: number;
}

export const KMS_OPERATIONS = [
  "CreateKey",
  "DescribeKey",
  "ListKeys",
  "CreateAlias",
  "ListAliases",
  "Encrypt",
  "Decrypt",
  "GenerateDataKey",
  "GenerateDataKeyWithoutPlaintext",
] as const;
export type KmsOperation = (typeof KMS_OPERATIONS)[number];

export function isKmsOperation(name: string): name is KmsOperation {
  return (KMS_OPERATIONS as readonly string[]).includes(name);
}

function nowSeconds(): number {
  return Date.now() / 1000;
}

function optionalString(input: JsonObject, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new KmsError("ValidationException", `${field} must be a string`);
  return value;
}

function requiredString(input: JsonObject, field: string): string {
  const value = optionalString(input, field);
  if (value === undefined || value === "") {
    throw new KmsError("ValidationException", `1 validation error detected: ${field} must not be null`);
  }
  return value;
}

function blob(input: JsonObject, field: string, maxBytes: number): Buffer {
  const encoded = requiredString(input, field);
  const bytes = Buffer.from(encoded, "base64");
  if (bytes.length === 0 || bytes.length > maxBytes) {
    throw new KmsError(
      "ValidationException",
      `1 validation error detected: ${field} length must be between 1 and ${maxBytes} bytes`,
    );
  }
  return bytes;
}

function encryptionContext(input: JsonObject): Buffer {
  const value = input["EncryptionContext"];
  if (value === undefined || value === null) return Buffer.alloc(0);
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new KmsError("ValidationException", "EncryptionContext must be a map of strings");
  }
  const entries = Object.entries(value as JsonObject);
  for (const [, v] of entries) {
    if (typeof v !== "string")
      throw new KmsError("ValidationException", "EncryptionContext values must be strings");
  }
  // Order-independent, like KMS: {a,b} and {b,a} are the same context.
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), "utf8");
}

function checkAlgorithm(input: JsonObject): void {
  const algorithm = optionalString(input, "EncryptionAlgorithm");
  if (algorithm !== undefined && algorithm !== "SYMMETRIC_DEFAULT") {
    throw new KmsError("InvalidKeyUsageException", `Only SYMMETRIC_DEFAULT is supported, got ${algorithm}`);
  }
}

export interface KmsEmulatorOptions {
  /**
   * Keep keys and aliases in this JSON file (key material in the clear, mode 0600): loaded at
   * construction, rewritten whole (temp file, then rename) before CreateKey or CreateAlias answers.
   * @default in memory only
   */
  readonly keysFile?: string;
}

interface StoredKeys {
  readonly version: 1;
  readonly keys: readonly (Omit<Key, "material"> & { readonly material: string })[];
  readonly aliases: readonly Alias[];
}

/** State and operations of one emulated KMS account. */
export class KmsEmulator {
  private readonly keys = new Map<string, Key>();
  private readonly aliases = new Map<string, Alias>();
  private readonly keysFile: string | undefined;

  constructor(options: KmsEmulatorOptions = {}) {
    this.keysFile = options.keysFile;
    if (this.keysFile !== undefined) this.load(this.keysFile);
  }

  private load(file: string): void {
    const stored = readStateFile(file) as StoredKeys | undefined;
    if (stored === undefined) return;
    if (stored.version !== 1 || !Array.isArray(stored.keys) || !Array.isArray(stored.aliases)) {
      throw new Error(`${file} is not a KMS emulator keys file (version 1)`);
    }
    for (const key of stored.keys) {
      const material = Buffer.from(key.material, "base64");
      if (material.length !== 32) throw new Error(`${file}: key ${key.id} has no 256-bit material`);
      this.keys.set(key.id, { ...key, material });
    }
    for (const alias of stored.aliases) this.aliases.set(alias.name, { ...alias });
  }

  private save(): void {
    if (this.keysFile === undefined) return;
    const stored: StoredKeys = {
      version: 1,
      keys: [...this.keys.values()].map((key) => ({ ...key, material: key.material.toString("base64") })),
      aliases: [...this.aliases.values()],
    };
    // Key material in the clear: owner only.
    writeStateFile(this.keysFile, stored, 0o600);
  }

  handle(operation: KmsOperation, input: JsonObject, region: string): JsonObject {
    switch (operation) {
      case "CreateKey":
        return this.createKey(input, region);
      case "DescribeKey":
        return { KeyMetadata: this.metadata(this.resolveKey(requiredString(input, "KeyId"))) };
      case "ListKeys":
        return this.listKeys(input);
      case "CreateAlias":
        return this.createAlias(input, region);
      case "ListAliases":
        return this.listAliases(input);
      case "Encrypt":
        return this.encrypt(input);
      case "Decrypt":
        return this.decrypt(input);
      case "GenerateDataKey":
        return this.generateDataKey(input, true);
      case "GenerateDataKeyWithoutPlaintext":
        return this.generateDataKey(input, false);
    }
  }

  private createKey(input: JsonObject, region: string): JsonObject {
    for (const [field, allowed] of [
      ["KeyUsage", "ENCRYPT_DECRYPT"],
      ["KeySpec", "SYMMETRIC_DEFAULT"],
      ["CustomerMasterKeySpec", "SYMMETRIC_DEFAULT"],
    ] as const) {
      const value = optionalString(input, field);
      if (value !== undefined && value !== allowed) {
        throw new KmsError(
          "UnsupportedOperationException",
          `This emulator only supports ${field} ${allowed}`,
        );
      }
    }
    const id = randomUUID();
    const key: Key = {
      id,
      arn: `arn:aws:kms:${region}:${ACCOUNT_ID}:key/${id}`,
      material: randomBytes(32),
      creationDate: nowSeconds(),
      description: optionalString(input, "Description") ?? "",
    };
    this.keys.set(id, key);
    try {
      this.save();
    } catch (error) {
      this.keys.delete(id);
      throw error;
    }
    return { KeyMetadata: this.metadata(key) };
  }

  private metadata(key: Key): JsonObject {
    return {
      AWSAccountId: ACCOUNT_ID,
      KeyId: key.id,
      Arn: key.arn,
      CreationDate: key.creationDate,
      Enabled: true,
      Description: key.description,
      KeyUsage: "ENCRYPT_DECRYPT",
      KeyState: "Enabled",
      Origin: "AWS_KMS",
      KeyManager: "CUSTOMER",
      CustomerMasterKeySpec: "SYMMETRIC_DEFAULT",
      KeySpec: "SYMMETRIC_DEFAULT",
      EncryptionAlgorithms: ["SYMMETRIC_DEFAULT"],
      MultiRegion: false,
    };
  }

  /** Accepts a key id, key ARN, alias name or alias ARN, as KMS does. */
  private resolveKey(keyId: string): Key {
    const aliasName = keyId.startsWith("alias/")
      ? keyId
      : /^arn:aws[\w-]*:kms:[^:]*:\d{12}:(alias\/.+)$/.exec(keyId)?.[1];
    if (aliasName !== undefined) {
      const alias = this.aliases.get(aliasName);
      const key = alias && this.keys.get(alias.targetKeyId);
      if (!key) throw new KmsError("NotFoundException", `Alias '${keyId}' is not found.`);
      return key;
    }
    const id = /^arn:aws[\w-]*:kms:[^:]*:\d{12}:key\/(.+)$/.exec(keyId)?.[1] ?? keyId;
    const key = this.keys.get(id);
    if (!key) {
      if (!UUID_PATTERN.test(id)) throw new KmsError("NotFoundException", `Invalid keyId '${keyId}'`);
      throw new KmsError("NotFoundException", `Key '${keyId}' does not exist`);
    }
    return key;
  }

  private listKeys(input: JsonObject): JsonObject {
    const all = [...this.keys.values()].map((key) => ({ KeyId: key.id, KeyArn: key.arn }));
    return paginate(all, input, "Keys");
  }

  private createAlias(input: JsonObject, region: string): JsonObject {
    const name = requiredString(input, "AliasName");
    if (!/^alias\/[a-zA-Z0-9/_-]+$/.test(name)) {
      throw new KmsError("ValidationException", `Alias must start with the prefix "alias/": ${name}`);
    }
    if (name.startsWith("alias/aws/")) {
      throw new KmsError(
        "NotAuthorizedException",
        "Cannot create an alias with the reserved prefix alias/aws/",
      );
    }
    const target = requiredString(input, "TargetKeyId");
    if (target.startsWith("alias/") || target.includes(":alias/")) {
      throw new KmsError("ValidationException", "TargetKeyId must be a key id or key ARN, not an alias");
    }
    const key = this.resolveKey(target);
    if (this.aliases.has(name)) {
      throw new KmsError(
        "AlreadyExistsException",
        `An alias with the name ${this.aliasArn(region, name)} already exists`,
      );
    }
    const now = nowSeconds();
    this.aliases.set(name, {
      name,
      arn: this.aliasArn(region, name),
      targetKeyId: key.id,
      creationDate: now,
      lastUpdatedDate: now,
    });
    try {
      this.save();
    } catch (error) {
      this.aliases.delete(name);
      throw error;
    }
    return {};
  }

  private aliasArn(region: string, name: string): string {
    return `arn:aws:kms:${region}:${ACCOUNT_ID}:${name}`;
  }

  private listAliases(input: JsonObject): JsonObject {
    const keyFilter = optionalString(input, "KeyId");
    const targetId = keyFilter === undefined ? undefined : this.resolveKey(keyFilter).id;
    const all = [...this.aliases.values()]
      .filter((alias) => targetId === undefined || alias.targetKeyId === targetId)
      .map((alias) => ({
        AliasName: alias.name,
        AliasArn: alias.arn,
        TargetKeyId: alias.targetKeyId,
        CreationDate: alias.creationDate,
        LastUpdatedDate: alias.lastUpdatedDate,
      }));
    return paginate(all, input, "Aliases");
  }

  private encrypt(input: JsonObject): JsonObject {
    checkAlgorithm(input);
    const key = this.resolveKey(requiredString(input, "KeyId"));
    const plaintext = blob(input, "Plaintext", MAX_PLAINTEXT_BYTES);
    return {
      CiphertextBlob: seal(key, plaintext, encryptionContext(input)).toString("base64"),
      KeyId: key.arn,
      EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
    };
  }

  private decrypt(input: JsonObject): JsonObject {
    checkAlgorithm(input);
    const parsed = parseBlob(blob(input, "CiphertextBlob", 6144));
    const key = this.keys.get(parsed.keyId);
    if (!key)
      throw new KmsError("InvalidCiphertextException", "The ciphertext refers to a key that does not exist");
    const requested = optionalString(input, "KeyId");
    if (requested !== undefined && this.resolveKey(requested).id !== key.id) {
      throw new KmsError(
        "IncorrectKeyException",
        "The key ID in the request does not identify a CMK that can perform this operation.",
      );
    }
    const plaintext = open(key, parsed, encryptionContext(input));
    return {
      KeyId: key.arn,
      Plaintext: plaintext.toString("base64"),
      EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
    };
  }

  private generateDataKey(input: JsonObject, withPlaintext: boolean): JsonObject {
    const key = this.resolveKey(requiredString(input, "KeyId"));
    const keySpec = optionalString(input, "KeySpec");
    const numberOfBytes = input["NumberOfBytes"];
    let size: number;
    if (keySpec !== undefined && numberOfBytes !== undefined) {
      throw new KmsError("ValidationException", "Specify either KeySpec or NumberOfBytes, not both");
    } else if (keySpec === "AES_256") {
      size = 32;
    } else if (keySpec === "AES_128") {
      size = 16;
    } else if (keySpec !== undefined) {
      throw new KmsError("ValidationException", `KeySpec must be AES_256 or AES_128, got ${keySpec}`);
    } else if (typeof numberOfBytes === "number" && Number.isInteger(numberOfBytes)) {
      if (numberOfBytes < 1 || numberOfBytes > 1024) {
        throw new KmsError("ValidationException", "NumberOfBytes must be between 1 and 1024");
      }
      size = numberOfBytes;
    } else {
      throw new KmsError("ValidationException", "Please specify either KeySpec or NumberOfBytes");
    }
    const dataKey = randomBytes(size);
    const result: JsonObject = {
      CiphertextBlob: seal(key, dataKey, encryptionContext(input)).toString("base64"),
      KeyId: key.arn,
    };
    if (withPlaintext) result["Plaintext"] = dataKey.toString("base64");
    return result;
  }
}

function paginate(items: readonly JsonObject[], input: JsonObject, field: string): JsonObject {
  const limit = typeof input["Limit"] === "number" ? Math.max(1, Math.min(1000, input["Limit"])) : 100;
  const marker = optionalString(input, "Marker");
  const start = marker === undefined ? 0 : Number.parseInt(marker, 10) || 0;
  const page = items.slice(start, start + limit);
  const next = start + page.length;
  return next < items.length
    ? { [field]: page, Truncated: true, NextMarker: String(next) }
    : { [field]: page, Truncated: false };
}

interface ParsedBlob {
  readonly keyId: string;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly ciphertext: Buffer;
}

/**
 * Blob layout: version(1) | keyIdLength(1) | keyId | iv(12) | tag(16) | ciphertext. The key id is
 * in the clear so Decrypt needs no KeyId (as with real KMS); it is also bound into the AAD.
 */
function seal(key: Key, plaintext: Buffer, context: Buffer): Buffer {
  const keyId = Buffer.from(key.id, "utf8");
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.material, iv);
  cipher.setAAD(Buffer.concat([keyId, context]));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([
    Buffer.from([BLOB_VERSION, keyId.length]),
    keyId,
    iv,
    cipher.getAuthTag(),
    ciphertext,
  ]);
}

function parseBlob(data: Buffer): ParsedBlob {
  const invalid = new KmsError("InvalidCiphertextException", "The ciphertext is invalid");
  if (data.length < 2 || data[0] !== BLOB_VERSION) throw invalid;
  const idLength = data[1] ?? 0;
  const ivStart = 2 + idLength;
  const tagStart = ivStart + IV_BYTES;
  const bodyStart = tagStart + TAG_BYTES;
  if (data.length < bodyStart) throw invalid;
  return {
    keyId: data.subarray(2, ivStart).toString("utf8"),
    iv: data.subarray(ivStart, tagStart),
    tag: data.subarray(tagStart, bodyStart),
    ciphertext: data.subarray(bodyStart),
  };
}

function open(key: Key, blob: ParsedBlob, context: Buffer): Buffer {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key.material, blob.iv);
    decipher.setAAD(Buffer.concat([Buffer.from(key.id, "utf8"), context]));
    decipher.setAuthTag(blob.tag);
    return Buffer.concat([decipher.update(blob.ciphertext), decipher.final()]);
  } catch {
    // A wrong encryption context and a tampered blob look the same to GCM, and to KMS.
    throw new KmsError("InvalidCiphertextException", "The ciphertext or encryption context is invalid");
  }
}
