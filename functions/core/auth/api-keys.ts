/**
 * API keys in the apiKeys table, pk `keyHash` = hex SHA-256 of the whole key. The key itself is
 * shown once by `create` and never stored, cached or logged: everything here works on hashes.
 * A key is `sk_` + 32 random bytes (base64url), so a hash is as hard to reverse as the key is to
 * guess, and no salt or slow hash is needed.
 *
 * Lookups are cached per container (by hash) so requests don't each read DynamoDB; a disabled
 * key therefore keeps working for up to the cache time in containers that already know it.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { SluiceError } from "../errors.ts";
import { isRole, type Principal, type Role } from "./types.ts";

/** `sk_` and 43 base64url characters (32 bytes). */
export const API_KEY_PATTERN = /^sk_[A-Za-z0-9_-]{43}$/;

const STREAM_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

export interface NewApiKey {
  /** What the key is for, e.g. "checkout-service"; shown in listings, never secret. */
  readonly name: string;
  readonly role: Role;
  /** Streams a writer or reader key may use; "*" for all. */
  readonly streams: "*" | readonly string[];
}

export interface CreatedApiKey {
  /** The secret: show it once, it cannot be recovered. */
  readonly key: string;
  /** Public id, safe to log and to pass to `disable`. */
  readonly keyId: string;
}

export interface ApiKeyStoreOptions {
  /** How long a found key is remembered. @default 60000 */
  readonly cacheTtlMs?: number;
  /** How long an unknown or disabled key is remembered. @default 5000 */
  readonly negativeCacheTtlMs?: number;
  /** Entries kept before the oldest are dropped, so random keys cannot grow memory. @default 10000 */
  readonly maxCached?: number;
  readonly clock?: () => number;
}

/** The item as stored; `streams` is "*" or a list. */
interface ApiKeyItem {
  readonly keyHash: string;
  readonly keyId: string;
  readonly name: string;
  readonly role: Role;
  readonly streams: "*" | readonly string[];
  readonly createdAt: string;
  readonly disabled: boolean;
}

interface CacheEntry {
  readonly principal: Promise<Principal | undefined>;
  expiresAt: number;
}

export function isApiKeyShaped(value: string): boolean {
  return API_KEY_PATTERN.test(value);
}

/** Hex SHA-256 of the whole key: the table's partition key. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export class ApiKeyStore {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly cacheTtlMs: number;
  private readonly negativeCacheTtlMs: number;
  private readonly maxCached: number;
  private readonly clock: () => number;

  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
    options: ApiKeyStoreOptions = {},
  ) {
    this.cacheTtlMs = options.cacheTtlMs ?? 60_000;
    this.negativeCacheTtlMs = options.negativeCacheTtlMs ?? 5_000;
    this.maxCached = options.maxCached ?? 10_000;
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Creates a key and returns it; only its hash is stored.
   * @example const { key, keyId } = await store.create({ name: "dev", role: "admin", streams: "*" });
   */
  async create(spec: NewApiKey): Promise<CreatedApiKey> {
    const streams = checkSpec(spec);
    const key = `sk_${randomBytes(32).toString("base64url")}`;
    const keyId = `key_${randomBytes(6).toString("hex")}`;
    const item: ApiKeyItem = {
      keyHash: hashApiKey(key),
      keyId,
      name: spec.name,
      role: spec.role,
      streams,
      createdAt: new Date(this.clock()).toISOString(),
      disabled: false,
    };
    await this.dynamo.send(
      new PutCommand({
        TableName: this.table,
        Item: item,
        // 256 random bits never collide; the condition only guards against overwriting by mistake.
        ConditionExpression: "attribute_not_exists(keyHash)",
      }),
    );
    return { key, keyId };
  }

  /** The principal a key stands for; undefined when it is malformed, unknown or disabled. */
  async lookup(key: string): Promise<Principal | undefined> {
    if (!isApiKeyShaped(key)) return undefined;
    const keyHash = hashApiKey(key);
    const now = this.clock();
    const cached = this.cache.get(keyHash);
    if (cached !== undefined && cached.expiresAt > now) return cached.principal;

    // Concurrent requests with the same key share one read.
    const entry: CacheEntry = { principal: this.read(keyHash), expiresAt: now + this.cacheTtlMs };
    this.remember(keyHash, entry);
    try {
      const principal = await entry.principal;
      if (principal === undefined) entry.expiresAt = now + this.negativeCacheTtlMs;
      return principal;
    } catch (err) {
      if (this.cache.get(keyHash) === entry) this.cache.delete(keyHash);
      throw err;
    }
  }

  /**
   * Disables a key by its public id; false when no key has that id. The table is keyed by hash,
   * so this scans: fine for a rare admin action, not for a request path.
   */
  async disable(keyId: string): Promise<boolean> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.dynamo.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: "#keyId = :keyId",
          ProjectionExpression: "#keyHash",
          ExpressionAttributeNames: { "#keyId": "keyId", "#keyHash": "keyHash" },
          ExpressionAttributeValues: { ":keyId": keyId },
          ExclusiveStartKey: startKey,
        }),
      );
      const keyHash = page.Items?.[0]?.keyHash;
      if (typeof keyHash === "string") {
        await this.dynamo.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { keyHash },
            UpdateExpression: "SET #disabled = :true",
            ConditionExpression: "attribute_exists(keyHash)",
            ExpressionAttributeNames: { "#disabled": "disabled" },
            ExpressionAttributeValues: { ":true": true },
          }),
        );
        // This container stops honouring it at once; others within the cache time.
        this.cache.clear();
        return true;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return false;
  }

  /** Forgets every cached lookup. */
  clearCache(): void {
    this.cache.clear();
  }

  private async read(keyHash: string): Promise<Principal | undefined> {
    const out = await this.dynamo.send(
      new GetCommand({
        TableName: this.table,
        Key: { keyHash },
        // A key created a moment ago must work, not be cached as unknown.
        ConsistentRead: true,
        ProjectionExpression: "#keyId, #role, #streams, #disabled",
        ExpressionAttributeNames: {
          "#keyId": "keyId",
          "#role": "role",
          "#streams": "streams",
          "#disabled": "disabled",
        },
      }),
    );
    return principalOf(out.Item);
  }

  private remember(keyHash: string, entry: CacheEntry): void {
    this.cache.delete(keyHash);
    while (this.cache.size >= this.maxCached) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cache.delete(oldest.value);
    }
    this.cache.set(keyHash, entry);
  }
}

/** An item someone edited into an unknown shape is refused rather than guessed at. */
function principalOf(item: Record<string, unknown> | undefined): Principal | undefined {
  if (item === undefined || item.disabled === true) return undefined;
  const { keyId, role, streams } = item;
  if (typeof keyId !== "string" || !isRole(role)) return undefined;
  let allowed: Principal["streams"];
  if (streams === "*") allowed = "*";
  else if (Array.isArray(streams) && streams.every((s): s is string => typeof s === "string"))
    allowed = [...streams];
  else return undefined;
  return { id: keyId, kind: "api-key", role, roles: [role], streams: allowed };
}

function checkSpec(spec: NewApiKey): "*" | string[] {
  if (spec.name.trim() === "" || spec.name.length > 128) {
    throw new SluiceError("INVALID_REQUEST", "an API key name is 1-128 characters", 400, "/name");
  }
  if (!isRole(spec.role)) {
    throw new SluiceError("INVALID_REQUEST", `unknown role ${JSON.stringify(spec.role)}`, 400, "/role");
  }
  if (spec.streams === "*") return "*";
  if (spec.streams.includes("*")) return "*";
  spec.streams.forEach((stream, i) => {
    if (!STREAM_NAME.test(stream)) {
      throw new SluiceError(
        "INVALID_STREAM_NAME",
        "stream names match ^[a-z0-9][a-z0-9._-]{0,127}$",
        400,
        `/streams/${i}`,
      );
    }
  });
  return [...new Set(spec.streams)];
}
