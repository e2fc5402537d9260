/** The schema registration custom resource speaks CloudFormation's response protocol. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { createRegistrationHandler } from "../../lib/schema-registration/handler.ts";

function event(
  requestType: "Create" | "Update" | "Delete",
  subjects: readonly string[] = ["sluice.feedback", "shop.orders"],
): CloudFormationCustomResourceEvent {
  const base = {
    ServiceToken: "arn:aws:lambda:eu-west-1:123456789012:function:register",
    ResponseURL: "https://cloudformation-custom-resource-response.example/signed",
    StackId: "arn:aws:cloudformation:eu-west-1:123456789012:stack/Test/1",
    RequestId: "req-1",
    LogicalResourceId: "SchemasSchemas",
    ResourceType: "Custom::SluiceSchemas",
    ResourceProperties: {
      ServiceToken: "arn:aws:lambda:eu-west-1:123456789012:function:register",
      Table: "sluice-schemas",
      Schemas: JSON.stringify(subjects.map((subject) => ({ subject, schema: { type: "object" } }))),
    },
  };
  if (requestType === "Create") return { ...base, RequestType: "Create" };
  const existing = {
    PhysicalResourceId: "sluice-schemas/schemas",
    OldResourceProperties: base.ResourceProperties,
  };
  return requestType === "Update"
    ? { ...base, ...existing, RequestType: "Update" }
    : { ...base, PhysicalResourceId: existing.PhysicalResourceId, RequestType: "Delete" };
}

function harness(fail?: string) {
  const registered: string[] = [];
  const responses: { url: string; body: Record<string, unknown> }[] = [];
  const handler = createRegistrationHandler({
    register: async (table, { subject }) => {
      if (fail === subject) throw new Error(`cannot register ${subject}`);
      registered.push(`${table}:${subject}`);
      return { version: registered.length };
    },
    respond: async (url, body) => {
      responses.push({ url, body: JSON.parse(body) as Record<string, unknown> });
    },
  });
  return { handler, registered, responses };
}

describe("schema registration custom resource", () => {
  test("a create registers every schema and answers SUCCESS with the versions", async () => {
    const h = harness();
    await h.handler(event("Create"));
    assert.deepEqual(h.registered, ["sluice-schemas:sluice.feedback", "sluice-schemas:shop.orders"]);
    assert.equal(h.responses.length, 1);
    assert.equal(h.responses[0]!.url, "https://cloudformation-custom-resource-response.example/signed");
    assert.deepEqual(h.responses[0]!.body, {
      Status: "SUCCESS",
      Reason: "registered 2 schema(s)",
      PhysicalResourceId: "sluice-schemas/schemas",
      StackId: "arn:aws:cloudformation:eu-west-1:123456789012:stack/Test/1",
      RequestId: "req-1",
      LogicalResourceId: "SchemasSchemas",
      Data: { Registered: "2", HighestVersion: "2" },
    });
  });

  test("the answer stays under CloudFormation's 4,096 bytes however many subjects there are", async () => {
    const subjects = Array.from({ length: 300 }, (_, i) => `namespace-${i}.a-rather-long-subject-name-${i}`);
    const h = harness();
    await h.handler(event("Create", subjects));
    assert.equal(h.registered.length, 300);
    const body = h.responses[0]!.body;
    assert.equal(body.Status, "SUCCESS");
    assert.deepEqual(body.Data, { Registered: "300", HighestVersion: "300" });
    assert.ok(Buffer.byteLength(JSON.stringify(body)) < 4096);
  });

  test("an update keeps the physical id; a delete registers nothing and succeeds", async () => {
    const update = harness();
    await update.handler(event("Update"));
    assert.equal(update.responses[0]!.body.PhysicalResourceId, "sluice-schemas/schemas");
    assert.equal(update.registered.length, 2);
    const del = harness();
    await del.handler(event("Delete"));
    assert.deepEqual(del.registered, []);
    assert.equal(del.responses[0]!.body.Status, "SUCCESS");
  });

  test("a failed registration answers FAILED with the reason, so the deployment rolls back", async () => {
    const h = harness("shop.orders");
    await h.handler(event("Create"));
    assert.equal(h.responses[0]!.body.Status, "FAILED");
    assert.equal(h.responses[0]!.body.Reason, "Error: cannot register shop.orders");
  });
});
