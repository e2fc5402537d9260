/** The admin function behind `/v1/keys` and the stats route: its own role, the only one that may write API keys. */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { ADMIN_ROUTES } from "../../functions/ingest/routes.ts";
import { asList, resourcesOf, type Synthesized, statementsOf, synthesize } from "./synth.ts";

let s: Synthesized;
before(() => {
  s = synthesize("sluice.yaml");
});

const onApiKeys = (fn: string) =>
  statementsOf(s, fn)
    .filter((st) => JSON.stringify(st.Resource).includes("TablesApiKeys"))
    .flatMap((st) => asList(st.Action))
    .sort();

describe("SluiceStack from sluice.yaml: the admin function", () => {
  test("the admin role reads and writes the API keys table and nothing else of the data", () => {
    assert.deepEqual(onApiKeys("sluice-admin"), [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Scan",
      "dynamodb:UpdateItem",
    ]);
    const text = statementsOf(s, "sluice-admin")
      .map((st) => `${asList(st.Action).join(",")} @ ${JSON.stringify(st.Resource)}`)
      .join("\n");
    assert.ok(!/kinesis:|glue:|s3:|TablesIdempotency|TablesCheckpoints|TablesSchemas/.test(text), text);
    // Beside the keys: reading metrics back for the stats route.
    assert.ok(/cloudwatch:GetMetricData/.test(text), text);
    assert.ok(!/dynamodb:DeleteItem/.test(text), "revoking marks a key, it never deletes the record of it");
  });

  test("ingest and the registry may only look a key up by its hash", () => {
    assert.deepEqual(onApiKeys("sluice-ingest"), ["dynamodb:GetItem"]);
    assert.deepEqual(onApiKeys("sluice-registry"), ["dynamodb:GetItem"]);
  });

  test("every key route goes to the admin function, and no other route does", () => {
    const integrations = new Map(
      resourcesOf(s, "AWS::ApiGatewayV2::Integration").map(([id, p]) => [
        id,
        JSON.stringify(p.IntegrationUri),
      ]),
    );
    const keyRoutes: string[] = [];
    for (const [, route] of resourcesOf(s, "AWS::ApiGatewayV2::Route")) {
      const target = (route.Target as { "Fn::Join": [string, unknown[]] })["Fn::Join"][1][1] as {
        Ref: string;
      };
      const uri = integrations.get(target.Ref) ?? "";
      const key = route.RouteKey as string;
      assert.equal(
        /IngestAdmin/.test(uri),
        key.includes(" /v1/keys") || key === "GET /v1/streams/{stream}/stats",
        key,
      );
      if (/IngestAdmin/.test(uri)) keyRoutes.push(key);
    }
    assert.deepEqual(keyRoutes.sort(), [...ADMIN_ROUTES].sort());
  });

  test("the admin function carries no pipelines or catalog tables in its environment", () => {
    const [, fn] = resourcesOf(s, "AWS::Lambda::Function").find(
      ([, p]) => p.FunctionName === "sluice-admin",
    )!;
    const env = (fn.Environment as { Variables: Record<string, string> }).Variables;
    const config = JSON.parse(env.SLUICE_CONFIG!) as {
      streams: object;
      pipelines: object;
      catalog: { tables: unknown[] };
    };
    assert.deepEqual([config.pipelines, config.catalog.tables], [{}, []]);
    assert.deepEqual(Object.keys(config.streams), ["feedback"]);
  });
});
