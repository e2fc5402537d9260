/**
 * TEST INFRASTRUCTURE ONLY: a KMS emulator for the embedded stack, because no KMS emulator is
 * reachable from the package registries here. The crypto is real (AES-256-GCM), but master keys
 * live in memory of the emulator process and vanish with it, or, with a keys file, sit on disk in
 * the clear (mode 0600). Never point real data at it.
 *
 * DisableKey and EnableKey are here so tests can make KMS refuse a key for real (DisabledException
 * on Encrypt, Decrypt and GenerateDataKey, as KMS answers). The emulator has no IAM: grants and
 * key policies are not enforced, so a disabled key is what stands in for a revoked grant.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { JsonObject } from "../aws-json-server.ts";
import { KmsError, open, parseBlob, seal } from "./blob.ts";
import {
  blob,
  checkAlgorithm,
  encryptionContext,
  optionalString,
  paginate,
  requiredString,
} from "./input.ts";
import { type Alias, type Key, loadKeysFile, saveKeysFile } from "./keys-file.ts";

export { KmsError } from "./blob.ts";

export const ACCOUNT_ID = "000000000000";
const MAX_PLAINTEXT_BYTES = 4096;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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
  "DisableKey",
  "EnableKey",
] as const;
export type KmsOperation = (typeof KMS_OPERATIONS)[number];

export function isKmsOperation(name: string): name is KmsOperation {
  return (KMS_OPERATIONS as readonly string[]).includes(name);
}

function nowSeconds(): number {
  return Date.now() / 1000;
}

export interface KmsEmulatorOptions {
  /**
   * Keep keys and aliases in this JSON file (key material in the clear, mode 0600): loaded at
   * construction, rewritten whole (temp file, then rename) before CreateKey, CreateAlias,
   * DisableKey or EnableKey answers.
   * @default in memory only
   */
  readonly keysFile?: string;
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
    const stored = loadKeysFile(file);
    for (const key of stored.keys) this.keys.set(key.id, key);
    for (const alias of stored.aliases) this.aliases.set(alias.name, alias);
  }

  private save(): void {
    if (this.keysFile === undefined) return;
    saveKeysFile(this.keysFile, [...this.keys.values()], [...this.aliases.values()]);
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
      case "DisableKey":
        return this.setEnabled(input, false);
      case "EnableKey":
        return this.setEnabled(input, true);
    }
  }

  /** DisableKey and EnableKey take a key id or ARN, not an alias, as KMS does. */
  private setEnabled(input: JsonObject, enabled: boolean): JsonObject {
    const keyId = requiredString(input, "KeyId");
    if (keyId.startsWith("alias/") || keyId.includes(":alias/")) {
      throw new KmsError("NotFoundException", `Invalid keyId '${keyId}': use a key id or key ARN`);
    }
    const key = this.resolveKey(keyId);
    const before = key.enabled;
    key.enabled = enabled;
    try {
      this.save();
    } catch (error) {
      key.enabled = before;
      throw error;
    }
    return {};
  }

  /** A key that may encrypt and decrypt: KMS refuses cryptographic operations on a disabled one. */
  private usable(key: Key): Key {
    if (key.enabled === false) throw new KmsError("DisabledException", `${key.arn} is disabled.`);
    return key;
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
      Enabled: key.enabled !== false,
      Description: key.description,
      KeyUsage: "ENCRYPT_DECRYPT",
      KeyState: key.enabled === false ? "Disabled" : "Enabled",
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
    const key = this.usable(this.resolveKey(requiredString(input, "KeyId")));
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
    const plaintext = open(this.usable(key), parsed, encryptionContext(input));
    return {
      KeyId: key.arn,
      Plaintext: plaintext.toString("base64"),
      EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
    };
  }

  private generateDataKey(input: JsonObject, withPlaintext: boolean): JsonObject {
    const key = this.usable(this.resolveKey(requiredString(input, "KeyId")));
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
