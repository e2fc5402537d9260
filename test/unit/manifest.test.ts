import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  checkManifest,
  DEFAULT_MANIFEST_PATH,
  formatManifestIssues,
  type LoadManifestOptions,
  loadManifest,
  ManifestError,
  type ManifestIssue,
  manifestSchema,
} from "../../functions/core/manifest/index.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const fixtures = join(root, "test/fixtures/manifests");
const scratch = mkdtempSync(join(tmpdir(), "sluice-manifest-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

let written = 0;
/** Writes a manifest next to a copy of the fixture schemas; one array entry is one line. */
function write(lines: readonly string[]): string {
  const dir = join(scratch, String(written++));
  cpSync(join(fixtures, "schemas"), join(dir, "schemas"), { recursive: true });
  const path = join(dir, "sluice.yaml");
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

/** Loads lines that must fail, returning the issues of the thrown ManifestError. */
function issuesOf(lines: readonly string[], options: LoadManifestOptions = {}): ManifestIssue[] {
  const path = write(lines);
  try {
    loadManifest(path, { onWarning: () => {}, ...options });
  } catch (error) {
    assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`);
    return [...error.issues];
  }
  assert.fail("the manifest loaded, but it should not have");
}

/** The one issue at `path`, asserting there is exactly one. */
function only(issues: readonly ManifestIssue[], path: string): ManifestIssue {
  const found = issues.filter((issue) => issue.path === path);
  assert.equal(found.length, 1, `one issue at ${path}, got ${JSON.stringify(issues, null, 2)}`);
  return found[0]!;
}

/** Line numbers in these tests are 1 + the index in this array. */
const base = [
  "version: 1", // 1
  "name: demo", // 2
  "schemas:", // 3
  "  - name: feedback", // 4
  "    file: schemas/feedback.json", // 5
  "streams:", // 6
  "  - name: feedback", // 7
  "    schema: feedback", // 8
  "pipelines:", // 9
  "  - name: lake", // 10
  "    sources: [feedback]", // 11
  "    sink: lake", // 12
  "sinks:", // 13
  "  - name: lake", // 14
  "    type: parquet", // 15
  '    prefix: "{stream}/dt={yyyy}-{MM}-{dd}/"', // 16
];

/** `base` with line `n` (1-based) replaced by the given lines. */
function edit(replacements: Record<number, string | readonly string[]>): string[] {
  return base.flatMap((line, i) => replacements[i + 1] ?? line);
}

describe("loadManifest: valid manifests", () => {
  test("the shipped sluice.yaml loads with every default applied", () => {
    const manifest = loadManifest(join(root, DEFAULT_MANIFEST_PATH));
    assert.equal(manifest.version, 1);
    assert.equal(manifest.name, "sluice");
    assert.ok(isAbsolute(manifest.path));
    assert.deepEqual(manifest.kinesis, { mode: "on-demand", shards: 1, retentionHours: 24 });
    const [schema] = manifest.schemas;
    assert.equal(schema?.namespace, "sluice");
    assert.equal(schema?.schema.title, "feedback.v1");
    assert.deepEqual(manifest.streams[0], {
      name: "feedback",
      schema: "feedback",
      eventTimeField: "ts",
      partitionKey: "customerId",
      idempotencyTtlSeconds: 86400,
      maxFutureSkewSeconds: 300,
      encryption: "none",
    });
    const [pipeline] = manifest.pipelines;
    assert.deepEqual(pipeline?.steps, []);
    assert.deepEqual(pipeline?.batch, {
      size: 1000,
      windowSeconds: 2,
      maxRetries: 5,
      bisectOnError: true,
      onFailure: "queue",
    });
    assert.equal("transformerArn" in (pipeline ?? {}), false);
    assert.deepEqual(manifest.sinks[0], {
      name: "lake",
      type: "iceberg",
      prefix: "{stream}/dt={yyyy}-{MM}-{dd}/hr={HH}/",
      partition: ["hour(ts)"],
      compression: "zstd",
      rowGroupSize: 100000,
      roll: { maxRecords: 100000, maxBytes: 67108864 },
    });
    assert.deepEqual(manifest.auth, { apiKeys: true }, "API keys on, no JWT");
    assert.deepEqual(JSON.parse(JSON.stringify(manifest)), manifest, "plain, JSON-serialisable data");
  });

  test("a minimal manifest gets the documented defaults", () => {
    const manifest = loadManifest(write(base));
    assert.deepEqual(manifest.kinesis, { mode: "on-demand", shards: 1, retentionHours: 24 });
    assert.equal(manifest.schemas[0]?.namespace, "default");
    assert.equal(manifest.streams[0]?.idempotencyTtlSeconds, 86400);
    assert.equal(manifest.streams[0]?.maxFutureSkewSeconds, 300);
    assert.deepEqual(manifest.pipelines[0]?.batch, {
      size: 1000,
      windowSeconds: 5,
      maxRetries: 5,
      bisectOnError: true,
      onFailure: "queue",
    });
    assert.equal(manifest.sinks[0]?.compression, "zstd");
    assert.deepEqual(manifest.auth, { apiKeys: true });
  });

  test("pipelines and sinks may be left out", () => {
    const manifest = loadManifest(write(base.slice(0, 8)));
    assert.deepEqual(manifest.pipelines, []);
    assert.deepEqual(manifest.sinks, []);
  });

  test("the fixture with every step kind, a 2020-12 schema and an external transformer loads", () => {
    const warnings: ManifestIssue[] = [];
    const manifest = loadManifest(join(fixtures, "valid.yaml"), {
      customTransforms: new Set(["enrich-geo"]),
      onWarning: (warning) => warnings.push(warning),
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(manifest.kinesis, { mode: "provisioned", shards: 2, retentionHours: 48 });
    assert.equal(manifest.schemas[1]?.schema.$schema, "https://json-schema.org/draft/2020-12/schema");
    const [feedback, orders] = manifest.pipelines;
    assert.deepEqual(
      feedback?.steps.map((step) => Object.keys(step)[0]),
      ["filter", "rename", "coerce", "timestamp", "mask", "set", "route", "project", "drop", "custom"],
    );
    assert.deepEqual(feedback?.steps[2], { coerce: { score: "integer" }, onError: "null" });
    assert.deepEqual(feedback?.batch, {
      size: 500,
      windowSeconds: 0,
      maxRetries: 0,
      bisectOnError: false,
      onFailure: "queue",
    });
    assert.equal(
      orders?.transformerArn,
      "arn:aws:lambda:eu-west-1:123456789012:function:orders-transform:live",
    );
    assert.deepEqual(orders?.steps, []);
    assert.deepEqual(manifest.sinks[0]?.roll, { maxRecords: 10000, maxBytes: 67108864 });
    assert.deepEqual(JSON.parse(JSON.stringify(manifest)), manifest);
  });

  test("overrides.name replaces the app name", () => {
    const manifest = loadManifest(join(root, DEFAULT_MANIFEST_PATH), { overrides: { name: "sluice-t1a2" } });
    assert.equal(manifest.name, "sluice-t1a2");
  });

  test("an invalid overrides.name is reported at the name line", () => {
    const issue = only(issuesOf(base, { overrides: { name: "Bad Name" } }), "name");
    assert.equal(issue.code, "INVALID_OVERRIDE");
    assert.equal(issue.line, 2);
  });

  test("custom steps need no registration when customTransforms is not given", () => {
    const manifest = loadManifest(
      write(edit({ 12: ["    sink: lake", "    steps:", "      - custom: anything"] })),
    );
    assert.deepEqual(manifest.pipelines[0]?.steps, [{ custom: "anything" }]);
  });

  test("x- blocks hold anchors that << merge keys reuse", () => {
    const manifest = loadManifest(
      write([
        "x-batch: &batch",
        "  size: 250",
        "  windowSeconds: 1",
        ...edit({ 12: ["    sink: lake", "    batch:", "      <<: *batch", "      maxRetries: 2"] }),
      ]),
    );
    assert.deepEqual(manifest.pipelines[0]?.batch, {
      size: 250,
      windowSeconds: 1,
      maxRetries: 2,
      bisectOnError: true,
      onFailure: "queue",
    });
    assert.equal("x-batch" in manifest, false);
  });

  test("exports the schema and the default path", () => {
    assert.equal(DEFAULT_MANIFEST_PATH, "sluice.yaml");
    assert.equal(manifestSchema.$schema, "http://json-schema.org/draft-07/schema#");
    assert.equal(manifestSchema.additionalProperties, false);
  });
});

describe("loadManifest: YAML syntax", () => {
  test("bad indentation", () => {
    const [issue, ...rest] = issuesOf(edit({ 5: "   file: schemas/feedback.json" }));
    assert.deepEqual(rest, []);
    assert.equal(issue?.code, "YAML_SYNTAX");
    assert.equal(issue?.line, 5);
  });

  test("duplicate keys", () => {
    const [issue, ...rest] = issuesOf(edit({ 8: ["    schema: feedback", "    schema: other"] }));
    assert.deepEqual(rest, []);
    assert.deepEqual(issue, {
      path: "",
      line: 9,
      column: 5,
      message: 'duplicate key "schema"',
      code: "YAML_SYNTAX",
    });
  });

  test("tabs as indentation", () => {
    const [issue] = issuesOf(edit({ 8: "\tschema: feedback" }));
    assert.equal(issue?.code, "YAML_SYNTAX");
    assert.equal(issue?.line, 8);
    assert.match(issue?.message ?? "", /tab/i);
  });

  test("an empty file", () => {
    const [issue] = issuesOf([""]);
    assert.equal(issue?.code, "MISSING_KEY");
    assert.match(issue?.message ?? "", /empty/);
  });

  test("a missing manifest file has no position", () => {
    assert.throws(
      () => loadManifest(join(scratch, "nope.yaml")),
      (error: unknown) => {
        assert.ok(error instanceof ManifestError);
        assert.deepEqual(
          error.issues.map((issue) => [issue.code, issue.line]),
          [["UNREADABLE", 0]],
        );
        assert.match(error.message, /nope\.yaml cannot read the manifest: no such file$/);
        return true;
      },
    );
  });
});

describe("loadManifest: shape errors", () => {
  test("unknown top-level key points at the key and suggests a fix", () => {
    const issue = only(issuesOf([...base, "sink:", "  - name: other"]), "sink");
    assert.equal(issue.code, "UNKNOWN_KEY");
    assert.equal(issue.line, 17);
    assert.equal(issue.column, 1);
    assert.equal(issue.message, 'unknown key "sink"; did you mean "sinks"?');
  });

  test("unknown key nested in a step", () => {
    const issues = issuesOf(
      edit({
        12: [
          "    sink: lake", // 12
          "    steps:", // 13
          "      - coerce: { score: integer }", // 14
          "        onEror: drop", // 15
          "      - mask: { fields: [a], mode: redact, sallt: x }", // 16
        ],
      }),
    );
    assert.deepEqual(only(issues, "pipelines[0].steps[0].onEror"), {
      path: "pipelines[0].steps[0].onEror",
      line: 15,
      column: 9,
      message: 'unknown key "onEror"; did you mean "onError"?',
      code: "UNKNOWN_KEY",
    });
    const mask = only(issues, "pipelines[0].steps[1].mask.sallt");
    assert.equal(mask.line, 16);
    assert.equal(mask.column, 44);
    assert.equal(issues.length, 2);
  });

  test("a key that belongs to another step kind is unknown", () => {
    const issues = issuesOf(
      edit({ 12: ["    sink: lake", "    steps:", "      - drop: [a]", "        onError: drop"] }),
    );
    const issue = only(issues, "pipelines[0].steps[0].onError");
    assert.equal(issue.message, 'unknown key "onError" (allowed here: drop)');
    assert.equal(issue.line, 15);
  });

  test("wrong type", () => {
    const issue = only(
      issuesOf(edit({ 12: ["    sink: lake", "    batch:", '      size: "big"'] })),
      "pipelines[0].batch.size",
    );
    assert.equal(issue.code, "INVALID_TYPE");
    assert.equal(issue.message, 'must be an integer (found "big")');
    assert.equal(issue.line, 14);
  });

  test("value out of range points at the value", () => {
    const issue = only(
      issuesOf(edit({ 12: ["    sink: lake", "    batch:", "      size: 20000"] })),
      "pipelines[0].batch.size",
    );
    assert.deepEqual(issue, {
      path: "pipelines[0].batch.size",
      line: 14,
      column: 13,
      message: "must be <= 10000",
      code: "OUT_OF_RANGE",
    });
  });

  test("enum values are listed with a suggestion", () => {
    const issue = only(issuesOf([...base, "    compression: zstdd"]), "sinks[0].compression");
    assert.equal(issue.message, 'must be one of "zstd", "snappy", "gzip", "none"; did you mean "zstd"?');
    assert.equal(issue.line, 17);
  });

  test("missing required key points at the mapping", () => {
    const issue = only(issuesOf(edit({ 12: [] })), "pipelines[0]");
    assert.equal(issue.code, "MISSING_KEY");
    assert.equal(issue.message, 'missing required key "sink"');
    assert.equal(issue.line, 10);
    assert.equal(issue.column, 5);
  });

  test("prefix must end with a slash", () => {
    const issue = only(issuesOf(edit({ 16: '    prefix: "{stream}/dt={yyyy}"' })), "sinks[0].prefix");
    assert.equal(issue.code, "INVALID_VALUE");
    assert.match(issue.message, /must end with "\/"/);
  });

  test("transformerArn excludes steps", () => {
    const issue = only(
      issuesOf(
        edit({
          12: [
            "    sink: lake",
            "    transformerArn: arn:aws:lambda:us-east-1:123456789012:function:t",
            "    steps: [{ drop: [a] }]",
          ],
        }),
      ),
      "pipelines[0].steps",
    );
    assert.equal(issue.line, 14);
    assert.match(issue.message, /must be empty when transformerArn is set/);
  });

  test("filter conditions: value required except for exists, in needs a list", () => {
    const issues = issuesOf(
      edit({
        12: [
          "    sink: lake", // 12
          "    steps:", // 13
          "      - filter:", // 14
          "          or:", // 15
          "            - { field: a, op: exists }", // 16
          "            - { field: a, op: eq }", // 17
          "            - { field: a, op: in, value: 3 }", // 18
          "            - not: { field: a, op: within, value: 3 }", // 19
        ],
      }),
    );
    assert.deepEqual(
      issues.map((issue) => [issue.path, issue.line, issue.code]),
      [
        ["pipelines[0].steps[0].filter.or[1]", 17, "MISSING_KEY"],
        ["pipelines[0].steps[0].filter.or[2].value", 18, "INVALID_TYPE"],
        ["pipelines[0].steps[0].filter.or[3].not.op", 19, "INVALID_VALUE"],
      ],
    );
    assert.match(issues[0]!.message, /every op except "exists"/);
    assert.equal(issues[1]!.message, 'must be an array for op "in"');
  });
});

describe("loadManifest: step kinds", () => {
  const withStep = (...step: string[]): string[] => edit({ 12: ["    sink: lake", "    steps:", ...step] });

  test("unknown step kind", () => {
    const issues = issuesOf(withStep("      - filtr: { field: a, op: eq, value: 1 }"));
    assert.deepEqual(issues, [
      {
        path: "pipelines[0].steps[0].filtr",
        line: 14,
        column: 9,
        message: 'unknown step kind "filtr"; did you mean "filter"?',
        code: "STEP_KIND",
      },
    ]);
  });

  test("a step with two kinds", () => {
    const issues = issuesOf(withStep("      - drop: [a]", "        project: [b]"));
    assert.deepEqual(issues, [
      {
        path: "pipelines[0].steps[0].project",
        line: 15,
        column: 9,
        message: 'a step has exactly one kind; found "drop" and "project"',
        code: "STEP_KIND",
      },
    ]);
  });

  test("a condition without a kind", () => {
    const issues = issuesOf(withStep("      - filter: { fild: a, op: eq, value: 1 }"));
    const issue = only(issues, "pipelines[0].steps[0].filter.fild");
    assert.equal(issue.message, 'unknown condition kind "fild"; did you mean "field"?');
    assert.equal(issues.length, 1);
  });

  test("bad regex", () => {
    const issues = issuesOf(
      withStep("      - filter:", "          not: { field: a, op: regex, value: '([a-z]+' }"),
    );
    const issue = only(issues, "pipelines[0].steps[0].filter.not.value");
    assert.equal(issue.code, "INVALID_REGEX");
    assert.equal(issue.line, 15);
    assert.equal(issue.column, 46);
    assert.match(issue.message, /not a valid regular expression: Unterminated group/);
  });

  test("unknown custom transform when customTransforms is given", () => {
    const issues = issuesOf(withStep("      - custom: geo-enrich"), {
      customTransforms: new Set(["enrich-geo"]),
    });
    const issue = only(issues, "pipelines[0].steps[0].custom");
    assert.equal(issue.code, "UNKNOWN_TRANSFORM");
    assert.equal(issue.line, 14);
    assert.equal(issue.message, 'unknown custom transform "geo-enrich" (registered: enrich-geo)');
  });

  test("unknown template in a set value", () => {
    const issue = only(
      issuesOf(withStep('      - set: { at: "t={{nwo}}" }')),
      "pipelines[0].steps[0].set.at",
    );
    assert.equal(issue.code, "INVALID_TEMPLATE");
    assert.equal(issue.message, 'unknown template "{{nwo}}"; did you mean "{{now}}"?');
    assert.equal(issue.column, 23);
  });
});

describe("loadManifest: references and files", () => {
  test("missing schema file is reported at the file entry", () => {
    const issue = only(issuesOf(edit({ 5: "    file: schemas/missing.json" })), "schemas[0].file");
    assert.equal(issue.code, "SCHEMA_FILE");
    assert.equal(issue.line, 5);
    assert.equal(issue.column, 11);
    assert.match(issue.message, /cannot read schema file .*missing\.json: no such file/);
  });

  test("schema file with invalid JSON", () => {
    // Written here rather than kept as a fixture so that `biome check .` stays clean.
    const path = write(edit({ 5: "    file: schemas/broken.json" }));
    writeFileSync(join(dirname(path), "schemas/broken.json"), '{ "type": "object", }');
    assert.throws(() => loadManifest(path), ManifestError);
    const issue = only(checkManifest(path).issues, "schemas[0].file");
    assert.equal(issue.line, 5);
    assert.match(issue.message, /schema file schemas\/broken\.json is not valid JSON/);
  });

  test("schema file that does not compile", () => {
    const issue = only(issuesOf(edit({ 5: "    file: schemas/not-a-schema.json" })), "schemas[0].file");
    assert.equal(issue.code, "SCHEMA_FILE");
    assert.match(issue.message, /not a usable JSON Schema/);
  });

  test("schema file whose pattern can backtrack catastrophically, refused as registration would", () => {
    const issue = only(issuesOf(edit({ 5: "    file: schemas/backtracking.json" })), "schemas[0].file");
    assert.equal(issue.code, "SCHEMA_FILE");
    assert.match(issue.message, /not a usable JSON Schema: \/properties\/name\/pattern: .*exponential/);
  });

  test("a schema's compatibility mode is read, and a mode that does not exist is refused", () => {
    const ok = loadManifest(
      write(edit({ 5: ["    file: schemas/feedback.json", "    compatibility: FULL_TRANSITIVE"] })),
    );
    assert.equal(ok.schemas[0]!.compatibility, "FULL_TRANSITIVE");
    const issue = only(
      issuesOf(edit({ 5: ["    file: schemas/feedback.json", "    compatibility: SIDEWAYS"] })),
      "schemas[0].compatibility",
    );
    assert.match(issue.message, /BACKWARD/);
  });

  test("duplicate stream names", () => {
    const issues = issuesOf(
      edit({ 8: ["    schema: feedback", "  - name: feedback", "    schema: feedback"] }),
    );
    const issue = only(issues, "streams[1].name");
    assert.equal(issue.code, "DUPLICATE_NAME");
    assert.equal(issue.line, 9);
    assert.equal(issue.message, 'duplicate stream name "feedback" (first declared as streams[0])');
  });

  test("pipeline referencing an unknown stream and an unknown sink", () => {
    const issues = issuesOf(edit({ 11: "    sources: [feedback, clicks]", 12: "    sink: lak" }));
    assert.deepEqual(
      issues.map((issue) => [issue.path, issue.line, issue.column, issue.message]),
      [
        ["pipelines[0].sources[1]", 11, 25, 'unknown stream "clicks" (declared: feedback)'],
        ["pipelines[0].sink", 12, 11, 'unknown sink "lak"; did you mean "lake"?'],
      ],
    );
  });

  test("runtimeStreams names a declared pipeline whose sink prefix separates streams", () => {
    const ok = loadManifest(write([...base, "runtimeStreams:", "  pipeline: lake"]));
    assert.deepEqual(ok.runtimeStreams, {
      pipeline: "lake",
      idempotencyTtlSeconds: 86400,
      maxFutureSkewSeconds: 300,
    });
    const unknown = only(
      issuesOf([...base, "runtimeStreams:", "  pipeline: lak"]),
      "runtimeStreams.pipeline",
    );
    assert.equal(unknown.code, "UNKNOWN_REFERENCE");
    assert.equal(unknown.line, 18);
    assert.match(unknown.message, /unknown pipeline "lak"; did you mean "lake"\?/);
    const mixed = only(
      issuesOf([
        ...edit({ 16: '    prefix: "all/dt={yyyy}-{MM}-{dd}/"' }),
        "runtimeStreams:",
        "  pipeline: lake",
      ]),
      "runtimeStreams.pipeline",
    );
    assert.equal(mixed.code, "INVALID_VALUE");
    assert.match(mixed.message, /prefix has no \{stream\}/);
    const iceberg = only(
      issuesOf([...edit({ 15: "    type: iceberg" }), "runtimeStreams:", "  pipeline: lake"]),
      "runtimeStreams.pipeline",
    );
    assert.equal(iceberg.code, "INVALID_VALUE");
    assert.match(iceberg.message, /Iceberg sink "lake".*need a parquet sink/);
    const shape = only(
      issuesOf([...base, "runtimeStreams:", "  pipeline: lake", "  shards: 2"]),
      "runtimeStreams.shards",
    );
    assert.ok(shape.message.length > 0);
  });

  test("stream referencing an unknown schema", () => {
    const issue = only(issuesOf(edit({ 8: "    schema: feedbak" })), "streams[0].schema");
    assert.equal(issue.code, "UNKNOWN_REFERENCE");
    assert.equal(issue.line, 8);
  });

  test("unknown prefix placeholder points at the placeholder", () => {
    const issues = issuesOf(edit({ 16: '    prefix: "{stream}/dt={YYYY}-{MM}/{date}/"' }));
    assert.deepEqual(
      issues.map((issue) => [issue.path, issue.line, issue.column, issue.message]),
      [
        ["sinks[0].prefix", 16, 26, 'unknown placeholder "{YYYY}"; did you mean "{yyyy}"?'],
        [
          "sinks[0].prefix",
          16,
          38,
          'unknown placeholder "{date}"; allowed: {stream}, {pipeline}, {yyyy}, {MM}, {dd}, {HH}, {mm}, {field:NAME}, {partitionKey:NAME}',
        ],
      ],
    );
  });

  test("unbalanced braces in a prefix", () => {
    const issue = only(issuesOf(edit({ 16: '    prefix: "{stream/"' })), "sinks[0].prefix");
    assert.equal(issue.code, "PREFIX_PLACEHOLDER");
    assert.match(issue.message, /"\{" without a matching "\}"/);
  });

  test("{field:NAME} must be declared by a schema feeding the sink", () => {
    const issue = only(
      issuesOf(edit({ 16: '    prefix: "{stream}/region={field:regoin}/"' })),
      "sinks[0].prefix",
    );
    assert.equal(issue.code, "UNDECLARED_FIELD");
    assert.equal(issue.column, 30);
    assert.match(
      issue.message,
      /no schema of the streams feeding this sink \("feedback"\) declares "regoin"/,
    );
    assert.doesNotThrow(() => loadManifest(write(edit({ 16: '    prefix: "{field:customer.region}/"' }))));
  });

  test("{field:NAME} declared by only some streams is a warning", () => {
    const lines = edit({
      5: ["    file: schemas/feedback.json", "  - name: orders", "    file: schemas/orders.json"],
      8: ["    schema: feedback", "  - name: orders", "    schema: orders"],
      11: "    sources: [feedback, orders]",
      16: '    prefix: "{stream}/customer={field:customerId}/"',
    });
    const warnings: ManifestIssue[] = [];
    loadManifest(write(lines), { onWarning: (warning) => warnings.push(warning) });
    assert.deepEqual(
      warnings.map((warning) => [warning.code, warning.path, warning.line]),
      [["UNDECLARED_FIELD", "sinks[0].prefix", 20]],
    );
    assert.match(warnings[0]!.message, /"customerId" is not declared by the schema of "orders"/);
  });

  test("{partitionKey:NAME} needs a route step", () => {
    const issue = only(
      issuesOf(edit({ 16: '    prefix: "{stream}/{partitionKey:region}/"' })),
      "sinks[0].prefix",
    );
    assert.equal(issue.code, "PREFIX_PLACEHOLDER");
    assert.match(issue.message, /no route step sets partition key "region" in pipeline "lake"/);
  });
});

describe("loadManifest: reporting", () => {
  test("multiple errors are reported together, in file order, one line each", () => {
    const lines = edit({
      2: "name: Demo", // 2
      5: "    file: schemas/missing.json", // 5
      11: "    sources: [feedbak]", // 11
      12: ["    sink: lake", "    batch: { size: 0, colour: red }"], // 12-13
      16: '    prefix: "{stream}/{day}/"', // 17
    });
    const path = write(lines);
    let thrown: unknown;
    try {
      loadManifest(path);
    } catch (error) {
      thrown = error;
    }
    assert.ok(thrown instanceof ManifestError);
    assert.deepEqual(
      thrown.issues.map((issue) => [issue.line, issue.path, issue.code]),
      [
        [2, "name", "INVALID_VALUE"],
        [5, "schemas[0].file", "SCHEMA_FILE"],
        [11, "pipelines[0].sources[0]", "UNKNOWN_REFERENCE"],
        [13, "pipelines[0].batch.size", "OUT_OF_RANGE"],
        [13, "pipelines[0].batch.colour", "UNKNOWN_KEY"],
        [17, "sinks[0].prefix", "PREFIX_PLACEHOLDER"],
      ],
    );
    const messageLines = thrown.message.split("\n");
    assert.equal(messageLines.length, 6);
    assert.equal(messageLines[3], `${thrown.file}:13:20 pipelines[0].batch.size: must be >= 1`);
    assert.equal(thrown.message, formatManifestIssues(thrown.file, thrown.issues));
  });

  test("checkManifest returns errors and warnings without throwing", () => {
    const check = checkManifest(
      write(edit({ 1: ["version: 1", "kinesis: { shards: 3 }"], 12: "    sink: nowhere" })),
    );
    assert.equal(check.manifest, undefined);
    assert.deepEqual(
      check.issues.map((issue) => issue.path),
      ["pipelines[0].sink"],
    );
    assert.deepEqual(
      check.warnings.map((warning) => [warning.code, warning.path, warning.line]),
      [["IGNORED_SETTING", "kinesis.shards", 2]],
    );
  });

  test("formatManifestIssues", () => {
    const issues: ManifestIssue[] = [
      {
        path: "pipelines[0].batch.size",
        line: 12,
        column: 5,
        message: "must be <= 10000",
        code: "OUT_OF_RANGE",
      },
      { path: "", line: 3, column: 1, message: 'duplicate key "name"', code: "YAML_SYNTAX" },
      { path: "", line: 0, column: 0, message: "cannot read the manifest: no such file", code: "UNREADABLE" },
    ];
    assert.equal(
      formatManifestIssues("sluice.yaml", issues),
      [
        "sluice.yaml:12:5 pipelines[0].batch.size: must be <= 10000",
        'sluice.yaml:3:1 duplicate key "name"',
        "sluice.yaml cannot read the manifest: no such file",
      ].join("\n"),
    );
  });
});

describe("loadManifest: auth", () => {
  const jwt = [
    "auth:", // 17
    "  jwt:", // 18
    "    jwksUrl: https://idp.example.com/.well-known/jwks.json", // 19
    "    issuer: https://idp.example.com/", // 20
    "    audience: sluice", // 21
  ];

  test("a jwt section gets the documented defaults and keeps API keys on", () => {
    const manifest = loadManifest(write([...base, ...jwt]));
    assert.deepEqual(manifest.auth, {
      apiKeys: true,
      jwt: {
        jwksUrl: "https://idp.example.com/.well-known/jwks.json",
        issuer: "https://idp.example.com/",
        audience: "sluice",
        leewaySeconds: 60,
        rolesClaim: "roles",
        streamsClaim: "sluice_streams",
      },
    });
  });

  test("every jwt setting can be given, audience as a list", () => {
    const manifest = loadManifest(
      write([
        ...base,
        "auth:",
        "  apiKeys: false",
        "  jwt:",
        "    jwksUrl: http://127.0.0.1:4000/jwks",
        "    issuer: https://idp.test/",
        "    audience: [sluice, sluice-admin]",
        "    leewaySeconds: 5",
        "    rolesClaim: realm_access.roles",
        "    streamsClaim: streams",
      ]),
    );
    assert.deepEqual(manifest.auth, {
      apiKeys: false,
      jwt: {
        jwksUrl: "http://127.0.0.1:4000/jwks",
        issuer: "https://idp.test/",
        audience: ["sluice", "sluice-admin"],
        leewaySeconds: 5,
        rolesClaim: "realm_access.roles",
        streamsClaim: "streams",
      },
    });
  });

  test("apiKeys: false without jwt turns authentication off, with a warning at the setting", () => {
    const warnings: ManifestIssue[] = [];
    const manifest = loadManifest(write([...base, "auth:", "  apiKeys: false"]), {
      onWarning: (warning) => warnings.push(warning),
    });
    assert.deepEqual(manifest.auth, { apiKeys: false });
    assert.deepEqual(
      warnings.map((warning) => [warning.path, warning.line]),
      [["auth.apiKeys", 18]],
    );
    assert.match(warnings[0]!.message, /turns authentication off: every caller acts as admin/);
  });

  test("a plain-http JWKS URL is only allowed on loopback", () => {
    for (const url of ["http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://[::1]:9/jwks"]) {
      loadManifest(write([...base, ...jwt.slice(0, 2), `    jwksUrl: ${url}`, ...jwt.slice(3)]));
    }
    const issue = only(
      issuesOf([...base, ...jwt.slice(0, 2), "    jwksUrl: http://idp.example.com/jwks", ...jwt.slice(3)]),
      "auth.jwt.jwksUrl",
    );
    assert.equal(issue.code, "INVALID_VALUE");
    assert.equal(issue.line, 19);
    assert.match(issue.message, /^must be an https:\/\/ URL/);
  });

  test("issuer and audience are required", () => {
    const issues = issuesOf([...base, ...jwt.slice(0, 3)]);
    assert.deepEqual(
      issues.map((issue) => [issue.code, issue.path, issue.message]),
      [
        ["MISSING_KEY", "auth.jwt", 'missing required key "issuer"'],
        ["MISSING_KEY", "auth.jwt", 'missing required key "audience"'],
      ],
    );
  });

  test("an empty audience, a negative leeway and a misspelt key are each reported", () => {
    const issues = issuesOf([
      ...base,
      ...jwt.slice(0, 4),
      "    audience: []", // 21
      "    leewaySeconds: -1", // 22
      "    roleClaim: groups", // 23
    ]);
    assert.equal(only(issues, "auth.jwt.audience").message, "must not be empty");
    assert.equal(only(issues, "auth.jwt.leewaySeconds").code, "OUT_OF_RANGE");
    const typo = only(issues, "auth.jwt.roleClaim");
    assert.equal(typo.message, 'unknown key "roleClaim"; did you mean "rolesClaim"?');
    assert.equal(typo.line, 23);
  });

  test("apiKeys must be true or false", () => {
    const issue = only(issuesOf([...base, "auth:", "  apiKeys: yes please"]), "auth.apiKeys");
    assert.equal(issue.message, 'must be true or false (found "yes please")');
  });
});
