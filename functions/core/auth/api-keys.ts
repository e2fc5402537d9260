/**
 * API keys in the apiKeys table, pk `keyHash` = hex SHA-256 of the whole key. The key itself is
 * shown once by `create` and never stored, cached or logged: everything here works on hashes.
 * A key is `sk_` + 32 random bytes (base64url), so a hash is as hard to reverse as the key is to
 * guess, and no salt or slow hash is needed.
 *
 * Lookups are cached per container (by hash) for at most 5 s, so requests don't each read DynamoDB
 * and a revoked key stops working everywhere within 5 s: one GetItem per key per container every
 * 5 s costs less than polling a revocation item would, and needs no second moving part.
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
  /** When the key stops working (ISO-8601); never when absent. */
  readonly expiresAt?: string;
}

/** A key as listed: everything but the secret and its hash. */
export interface ApiKeyView {
  readonly keyId: string;
  readonly name: string;
  readonly role: Role;
  readonly streams: "*" | readonly string[];
  readonly createdAt: string;
  readonly expiresAt?: string;
  readonly revokedAt?: string;
  readonly state: "active" | "revoked" | "expired";
}

export type RevokeOutcome =
  | { readonly outcome: "revoked" | "already-revoked"; readonly key: ApiKeyView }
  | { readonly outcome: "not-found" };

export interface CreatedApiKey {
  /** The secret: show it once, it cannot be recovered. */
  readonly key: string;
  /** Public id, safe to log and to pass to `revoke`. */
  readonly keyId: string;
  readonly view: ApiKeyView;
}

export interface ApiKeyStoreOptions {
  /** How long a found key is remembered: the longest a revoked key keeps working. @default 5000 */
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
  readonly expiresAt?: string;
  readonly revokedAt?: string;
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
    this.cacheTtlMs = options.cacheTtlMs ?? 5_000;
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
    const expiresAt = checkExpiry(spec.expiresAt, this.clock());
    const key = `sk_${randomBytes(32).toString("base64url")}`;
    const keyId = `key_${randomBytes(6).toString("hex")}`;
    const item: ApiKeyItem = {
      keyHash: hashApiKey(key),
      keyId,
      name: spec.name,
      role: spec.role,
      streams,
      createdAt: new Date(this.clock()).toISOString(),
      ...(expiresAt === undefined ? {} : { expiresAt }),
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
    return { key, keyId, view: viewOf(item, this.clock()) };
  }

  /** The principal a key stands for; undefined when it is malformed, unknown or disabled. */
  async lookup(key: string): Promise<Principal | undefined> {
    if (!isApiKeyShaped(key)) return undefined;
    const keyHash = hashApiKey(key);
    const now = this.clock();
    const cached = this.cache.get(keyHash);
    if (cached !== undefined && cached.expiresAt > now) return cached.principal;

    // Concurrent requests with the same key share one read.
    const read = this.read(keyHash);
    const entry: CacheEntry = {
      principal: read.then((r) => r.principal),
      expiresAt: now + this.cacheTtlMs,
    };
    // A failed read is thrown to this caller below; the cached copy must not also reject unheard.
    entry.principal.catch(() => undefined);
    this.remember(keyHash, entry);
    try {
      const { principal, expiresAtMs } = await read;
      if (principal === undefined) entry.expiresAt = now + this.negativeCacheTtlMs;
      // A key that expires within the cache time is not honoured past its expiry.
      else if (expiresAtMs !== undefined) entry.expiresAt = Math.min(entry.expiresAt, expiresAtMs);
      return principal;
    } catch (err) {
      if (this.cache.get(keyHash) === entry) this.cache.delete(keyHash);
      throw err;
    }
  }

  /** Every key, newest first, without secrets; a scan, for a rare admin listing. */
  async list(): Promise<ApiKeyView[]> {
    const now = this.clock();
    const views: ApiKeyView[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.dynamo.send(
        new ScanCommand({ TableName: this.table, ExclusiveStartKey: startKey }),
      );
      for (const item of page.Items ?? []) {
        const view = storedViewOf(item, now);
        if (view) views.push(view);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return views.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.keyId.localeCompare(b.keyId));
  }

  /**
   * Revokes a key by its public id. Revoking a revoked key changes nothing and says so
   * (`already-revoked`), so a retried revocation is safe. The table is keyed by hash, so this
   * scans: fine for a rare admin action, not for a request path. Other containers stop honouring
   * the key when their cache entry expires (at most `cacheTtlMs`).
   */
  async revoke(keyId: string): Promise<RevokeOutcome> {
    const keyHash = await this.hashOf(keyId);
    if (keyHash === undefined) return { outcome: "not-found" };
    const revokedAt = new Date(this.clock()).toISOString();
    try {
      const out = await this.dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { keyHash },
          UpdateExpression: "SET #disabled = :true, #revokedAt = :at",
          ConditionExpression: "attribute_exists(keyHash) AND #disabled <> :true",
          ExpressionAttributeNames: { "#disabled": "disabled", "#revokedAt": "revokedAt" },
          ExpressionAttributeValues: { ":true": true, ":at": revokedAt },
          ReturnValues: "ALL_NEW",
        }),
      );
      this.cache.delete(keyHash);
      return { outcome: "revoked", key: storedViewOf(out.Attributes, this.clock())! };
    } catch (err) {
      if ((err as Error).name !== "ConditionalCheckFailedException") throw err;
      const current = await this.dynamo.send(
        new GetCommand({ TableName: this.table, Key: { keyHash }, ConsistentRead: true }),
      );
      const view = storedViewOf(current.Item, this.clock());
      return view ? { outcome: "already-revoked", key: view } : { outcome: "not-found" };
    }
  }

  private async hashOf(keyId: string): Promise<string | undefined> {
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
          ConsistentRead: true,
        }),
      );
      const keyHash = page.Items?.[0]?.keyHash;
      if (typeof keyHash === "string") return keyHash;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return undefined;
  }

  /** Forgets every cached lookup. */
  clearCache(): void {
    this.cache.clear();
  }

  private async read(keyHash: string): Promise<{ principal?: Principal; expiresAtMs?: number }> {
    const out = await this.dynamo.send(
      new GetCommand({
        TableName: this.table,
        Key: { keyHash },
        // A key created a moment ago must work, not be cached as unknown.
        ConsistentRead: true,
        ProjectionExpression: "#keyId, #role, #streams, #disabled, #expiresAt",
        ExpressionAttributeNames: {
          "#keyId": "keyId",
          "#role": "role",
          "#streams": "streams",
          "#disabled": "disabled",
          "#expiresAt": "expiresAt",
        },
      }),
    );
    const expiresAt = out.Item?.expiresAt;
    const expiresAtMs = typeof expiresAt === "string" ? Date.parse(expiresAt) : undefined;
    if (expiresAtMs !== undefined && !(expiresAtMs > this.clock())) return {};
    const principal = principalOf(out.Item);
    return principal === undefined
      ? {}
      : { principal, ...(expiresAtMs === undefined ? {} : { expiresAtMs }) };
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

function storedViewOf(item: Record<string, unknown> | undefined, now: number): ApiKeyView | undefined {
  if (item === undefined) return undefined;
  const principal = principalOf({ ...item, disabled: false });
  if (principal === undefined || typeof item.name !== "string" || typeof item.createdAt !== "string") {
    return undefined;
  }
  return viewOf(item as unknown as ApiKeyItem, now);
}

function viewOf(item: ApiKeyItem, now: number): ApiKeyView {
  const expired = item.expiresAt !== undefined && !(Date.parse(item.expiresAt) > now);
  return {
    keyId: item.keyId,
    name: item.name,
    role: item.role,
    streams: item.streams,
    createdAt: item.createdAt,
    ...(item.expiresAt === undefined ? {} : { expiresAt: item.expiresAt }),
    ...(item.revokedAt === undefined ? {} : { revokedAt: item.revokedAt }),
    state: item.disabled ? "revoked" : expired ? "expired" : "active",
  };
}

/** An expiry is a future ISO-8601 instant with a zone; returned normalized to UTC. */
function checkExpiry(expiresAt: string | undefined, now: number): string | undefined {
  if (expiresAt === undefined) return undefined;
  const ms = /(Z|[+-]\d\d:\d\d)$/.test(expiresAt) ? Date.parse(expiresAt) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new SluiceError(
      "INVALID_REQUEST",
      "expiresAt is an ISO-8601 date-time with a zone, e.g. 2027-01-31T00:00:00Z",
      400,
      "/expiresAt",
    );
  }
  if (ms <= now) throw new SluiceError("INVALID_REQUEST", "expiresAt is in the past", 400, "/expiresAt");
  return new Date(ms).toISOString();
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
