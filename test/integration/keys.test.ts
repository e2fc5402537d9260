/**
 * API keys over the admin routes and `sluice keys`, against the local runner: create (the secret
 * once), list (never a secret or hash), revoke (idempotent), the refusals, a revoked key refused
 * within 5 s by two independent app instances (two runners on one app: two containers, each with
 * its own key cache), and the `--admin` bootstrap writing straight into the table.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { runKeysCommand } from "../../bin/keys-command.ts";
import { silentLogger } from "../../functions/core/logger.ts";
import { loadManifest } from "../../functions/core/manifest/index.ts";
import { type LocalRunner, startLocalRunner } from "../../localstack/lambda/local-runner.ts";
import { authHeader, endpoint, uniqueApp } from "../support/env.ts";

let a: LocalRunner;
let b: LocalRunner;
before(async () => {
  const manifest = loadManifest("sluice.yaml", { overrides: { name: uniqueApp("keys") } });
  const common = { endpoint: endpoint(), httpPort: 0, logger: silentLogger, pipelines: false } as const;
  a = await startLocalRunner({ ...common, manifest });
  b = await startLocalRunner({ ...common, manifest, ...(a.devKey ? { reuseDevKey: a.devKey } : {}) });
});
after(async () => {
  await a?.stop();
  await b?.stop();
});

/** The members these tests read, of whichever answer. */
interface Answer {
  key: string;
  keyId: string;
  name: string;
  role: string;
  streams: unknown;
  state: string;
  keys: { keyId: string; name: string }[];
  error: { code: string; path?: string };
  revoked: boolean;
  revokedAt: string;
}

async function call(runner: LocalRunner, method: string, path: string, key?: string, body?: unknown) {
  const res = await fetch(`${runner.url}${path}`, {
    method,
    headers: {
      ...(key === undefined ? authHeader(runner) : { authorization: `Bearer ${key}` }),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Answer };
}

function captured() {
  const io = {
    outText: "",
    errText: "",
    out: (t: string) => {
      io.outText += t;
    },
    err: (t: string) => {
      io.errText += t;
    },
  };
  return io;
}

describe("the admin routes /v1/keys", () => {
  test("create answers the secret once; list shows the key without it; the key works for its stream", async () => {
    const made = await call(a, "POST", "/v1/keys", undefined, {
      name: "checkout",
      role: "writer",
      streams: ["feedback"],
    });
    assert.equal(made.status, 201);
    assert.match(made.json.key, /^sk_[A-Za-z0-9_-]{43}$/);
    assert.match(made.json.keyId, /^key_[0-9a-f]{12}$/);
    assert.deepEqual(
      [made.json.role, made.json.streams, made.json.state],
      ["writer", ["feedback"], "active"],
    );

    const listed = await call(a, "GET", "/v1/keys");
    assert.equal(listed.status, 200);
    const mine = listed.json.keys.find((k) => k.keyId === made.json.keyId);
    assert.equal(mine?.name, "checkout");
    const text = JSON.stringify(listed.json);
    assert.ok(!text.includes(made.json.key) && !text.includes("keyHash"), "no secret or hash is listed");

    assert.equal((await call(a, "GET", "/v1/streams/feedback", made.json.key)).status, 200);
    // A writer is no admin.
    const refused = await call(a, "GET", "/v1/keys", made.json.key);
    assert.deepEqual([refused.status, refused.json.error.code], [403, "FORBIDDEN"]);
  });

  test("bad role, unknown stream, bad expiry and a malformed body are 400 with the field at fault", async () => {
    const cases: [unknown, string][] = [
      [{ name: "x", role: "root", streams: "*" }, "/role"],
      [{ name: "x", role: "writer", streams: ["nope"] }, "/streams/0"],
      [{ name: "x", role: "writer", streams: "*", expiresAt: "2001-01-01T00:00:00Z" }, "/expiresAt"],
      [{ name: "x", role: "writer", streams: "*", colour: "red" }, "/colour"],
    ];
    for (const [body, path] of cases) {
      const r = await call(a, "POST", "/v1/keys", undefined, body);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json.error.path, path, JSON.stringify(r.json));
    }
    const noCredentials = await fetch(`${a.url}/v1/keys`);
    assert.equal(noCredentials.status, 401);
  });

  test("an unknown key id is 404; revoking twice is 200 both times, the second saying it changed nothing", async () => {
    assert.equal((await call(a, "DELETE", "/v1/keys/key_000000000000")).status, 404);
    assert.equal((await call(a, "DELETE", "/v1/keys/not-a-key-id")).status, 404);
    const made = await call(a, "POST", "/v1/keys", undefined, {
      name: "twice",
      role: "reader",
      streams: "*",
    });
    const first = await call(a, "DELETE", `/v1/keys/${made.json.keyId}`);
    assert.deepEqual([first.status, first.json.revoked, first.json.state], [200, true, "revoked"]);
    const second = await call(a, "DELETE", `/v1/keys/${made.json.keyId}`);
    assert.deepEqual(
      [second.status, second.json.revoked, second.json.revokedAt],
      [200, false, first.json.revokedAt],
    );
  });

  test("a revoked key is refused within 5 s by both app instances, each with a warm cache", async () => {
    const made = await call(a, "POST", "/v1/keys", undefined, { name: "gone", role: "writer", streams: "*" });
    const key = made.json.key as string;
    // Both containers now hold the key in their cache.
    assert.equal((await call(a, "GET", "/v1/streams/feedback", key)).status, 200);
    assert.equal((await call(b, "GET", "/v1/streams/feedback", key)).status, 200);

    const revokedAt = Date.now();
    assert.equal((await call(a, "DELETE", `/v1/keys/${made.json.keyId}`)).status, 200);
    const refusedAfter = async (runner: LocalRunner) => {
      for (;;) {
        const r = await call(runner, "GET", "/v1/streams/feedback", key);
        if (r.status === 401) return Date.now() - revokedAt;
        assert.equal(r.status, 200);
        if (Date.now() - revokedAt > 10_000) return Number.POSITIVE_INFINITY;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const [onA, onB] = await Promise.all([refusedAfter(a), refusedAfter(b)]);
    // One poll interval and a request's time of slack past the 5 s cache bound.
    assert.ok(onA <= 5_500, `refused by the revoking instance after ${onA} ms`);
    assert.ok(onB <= 5_500, `refused by the other instance after ${onB} ms`);
  });
});

describe("sluice keys", () => {
  test("create, list and revoke over the admin API; revoke of an unknown id exits 1", async () => {
    const opts = ["--url", a.url, "--key", a.devKey!];
    const io = captured();
    assert.equal(
      await runKeysCommand(
        ["create", "--name", "cli", "--role", "reader", "--streams", "feedback", ...opts],
        io,
      ),
      0,
    );
    const id = /key_[0-9a-f]{12}/.exec(io.outText)?.[0];
    assert.ok(id, io.outText);
    assert.match(io.outText, /^key: sk_/m);
    assert.match(io.errText, /only time the key is shown/);

    const list = captured();
    assert.equal(await runKeysCommand(["list", ...opts], list), 0);
    assert.match(list.outText, new RegExp(`${id}  active .*reader .*cli  streams=feedback`));
    assert.ok(!list.outText.includes("sk_"));

    const revoke = captured();
    assert.equal(await runKeysCommand(["revoke", id, ...opts], revoke), 0);
    assert.equal(revoke.outText, `${id} revoked\n`);
    const again = captured();
    assert.equal(await runKeysCommand(["revoke", id, ...opts], again), 0);
    assert.match(again.outText, /was already revoked/);
    const unknown = captured();
    assert.equal(await runKeysCommand(["revoke", "key_000000000000", ...opts], unknown), 1);
    assert.match(unknown.errText, /refused \(404 NOT_FOUND\)/);
    const usage = captured();
    assert.equal(await runKeysCommand(["create", "--name", "x", ...opts], usage), 2);
  });

  test("create --admin writes a hashed admin key into the table with AWS credentials alone, and it works", async () => {
    const io = captured();
    const previous = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = endpoint();
    let code: number;
    try {
      code = await runKeysCommand(
        ["create", "--admin", "--name", "first", "--table", a.config.tables.apiKeys, "--json"],
        io,
      );
    } finally {
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = previous;
    }
    assert.equal(code, 0, io.errText);
    const made = JSON.parse(io.outText) as { key: string; keyId: string; role: string };
    assert.equal(made.role, "admin");
    const items =
      (await a.clients.dynamo.send(new ScanCommand({ TableName: a.config.tables.apiKeys }))).Items ?? [];
    const stored = items.find((i) => i.keyId === made.keyId)!;
    assert.ok(stored, "the key is in the table");
    assert.ok(!JSON.stringify(stored).includes(made.key), "only its hash is stored");
    assert.equal((await call(b, "GET", "/v1/keys", made.key)).status, 200, "it is an admin key at once");
  });
});
