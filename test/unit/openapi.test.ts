import assert from "node:assert/strict";
import { test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import openapi from "../../functions/ingest/openapi.json" with { type: "json" };
import { API_ROUTES } from "../../functions/ingest/routes.ts";

test("the OpenAPI document describes exactly the routes the API serves", () => {
  const documented = Object.entries(openapi.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
  );
  assert.deepEqual(documented.sort(), [...API_ROUTES].sort());
  assert.equal(openapi.openapi, "3.1.0");
});

test("the OpenAPI component schemas compile as JSON Schema 2020-12", () => {
  const ajv = new Ajv2020({ strict: false });
  ajv.addSchema({ $id: "openapi", components: openapi.components });
  for (const name of Object.keys(openapi.components.schemas)) {
    assert.ok(ajv.getSchema(`openapi#/components/schemas/${name}`), name);
  }
  const ingestResponse = ajv.getSchema("openapi#/components/schemas/IngestResponse")!;
  assert.equal(ingestResponse({ results: [{ recordId: "01J", status: "accepted" }] }), true);
  assert.equal(ingestResponse({ results: [{ recordId: null, status: "maybe" }] }), false);
});
