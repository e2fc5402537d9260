/** `POST /v1/schemas` bodies: what is refused (400 INVALID_SCHEMA at a pointer), what passes, and patterns. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type ErrorDetail, SluiceError } from "../../functions/core/errors.ts";
import { widenBoundedRepeats } from "../../functions/core/pattern-safety.ts";
import { parseSchemaRegistration } from "../../functions/core/schema-registration.ts";
import { compiled } from "../../functions/core/validators.ts";

const DRAFT_07 = "http://json-schema.org/draft-07/schema#";
const DRAFT_2020 = "https://json-schema.org/draft/2020-12/schema";

function refusal(schema: unknown): ErrorDetail & { status: number } {
  try {
    parseSchemaRegistration(JSON.stringify({ name: "orders", namespace: "shop", schema }));
  } catch (err) {
    assert.ok(err instanceof SluiceError, String(err));
    return { ...err.toDetail(), status: err.status };
  }
  assert.fail("the registration was accepted");
}

function assertRefused(schema: unknown, path: string, message: RegExp | string) {
  const detail = refusal(schema);
  assert.deepEqual([detail.status, detail.code, detail.path], [400, "INVALID_SCHEMA", path]);
  if (typeof message === "string") assert.equal(detail.message, message);
  else assert.match(detail.message, message);
  assert.deepEqual(detail.details?.[0], { path, message: detail.message });
}

const stringWith = (pattern: string) => ({ type: "object", properties: { a: { type: "string", pattern } } });
const syntaxError = (source: string) => {
  try {
    new RegExp(source, "u");
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail(`${source} compiles`);
};

describe("the dialect and the meta-schema", () => {
  test("a $schema other than draft-07 or 2020-12 is refused at /schema/$schema", () => {
    assertRefused(
      { $schema: "http://json-schema.org/draft-04/schema#" },
      "/schema/$schema",
      /draft-07 or 2020-12/,
    );
  });

  test("a misspelt type is refused at the keyword, naming the allowed values", () => {
    assertRefused(
      { type: "object", properties: { a: { type: "strng" } } },
      "/schema/properties/a/type",
      /^"type" must be one of "array", "boolean", "integer", "null", "number", "object", "string"$/,
    );
  });

  test("required given as a string is refused at /schema/required", () => {
    assertRefused({ type: "object", required: "x" }, "/schema/required", '"required" must be array');
  });

  test("2020-12 schemas are held to their own meta-schema", () => {
    assertRefused(
      { $schema: DRAFT_2020, type: "string", minLength: -1 },
      "/schema/minLength",
      '"minLength" must be >= 0',
    );
  });
});

describe("$ref", () => {
  test("a $ref to a missing definition is refused at the $ref, naming it", () => {
    assertRefused(
      { properties: { a: { $ref: "#/definitions/missing" } } },
      "/schema/properties/a/$ref",
      '$ref "#/definitions/missing" resolves to nothing in this schema',
    );
  });

  test("a remote $ref is refused: the registry fetches no schema", () => {
    assertRefused(
      { properties: { a: { $ref: "https://example.com/address.json#/definitions/street" } } },
      "/schema/properties/a/$ref",
      /^\$ref "https:\/\/example\.com\/address\.json#\/definitions\/street" is to another document, and the registry fetches none/,
    );
    assertRefused(
      { items: { $ref: "address.json" } },
      "/schema/items/$ref",
      /"address\.json" is to another document/,
    );
  });

  test("a $ref to an anchor nobody declares is refused", () => {
    assertRefused(
      { $schema: DRAFT_2020, properties: { a: { $ref: "#street" } } },
      "/schema/properties/a/$ref",
      '$ref "#street" names no anchor in this schema',
    );
  });
});

describe("pattern and patternProperties", () => {
  test("a pattern that does not compile is refused at it, with the engine's reason", () => {
    assertRefused(stringWith("(unclosed"), "/schema/properties/a/pattern", syntaxError("(unclosed"));
    // Under the u flag ajv passes, a lone brace is a syntax error too.
    assertRefused(stringWith("a{"), "/schema/properties/a/pattern", syntaxError("a{"));
  });

  test("a patternProperties key that does not compile is refused at the key, escaped as a JSON pointer", () => {
    assertRefused(
      { type: "object", patternProperties: { "^x-/(": { type: "string" } } },
      "/schema/patternProperties/^x-~1(",
      syntaxError("^x-/("),
    );
  });

  test("a pattern that backtracks exponentially is refused at it, with an example of the input", () => {
    assertRefused(
      { type: "object", properties: { name: { type: "string", pattern: "^(a+)+$" } } },
      "/schema/properties/name/pattern",
      /^regex can backtrack catastrophically \(exponential time, e\.g\. on 'a'.*\)/,
    );
  });

  test("super-linear patterns of every usual shape are refused, as patterns or as patternProperties keys", () => {
    for (const [pattern, growth] of [
      ["(a|a)*$", "exponential"],
      ["^(\\w+\\s?)*$", "exponential"],
      ["\\s+$", "quadratic"],
      ["^.*.*=.*$", "cubic"],
    ]) {
      assertRefused(stringWith(pattern!), "/schema/properties/a/pattern", new RegExp(`\\(${growth} time`));
    }
    assertRefused(
      { type: "object", patternProperties: { "^(a|aa)+$": {} } },
      "/schema/patternProperties/^(a|aa)+$",
      /exponential time/,
    );
  });

  test("nested bounded repeats, exponential within their bounds, are refused too", () => {
    // recheck fuzzes these; on a slow machine its budget may run out first, which refuses as well.
    assertRefused(
      stringWith("^(a{1,30}){1,30}$"),
      "/schema/properties/a/pattern",
      /\(exponential time|could not be shown free of catastrophic backtracking in time/,
    );
  });

  test("a pattern ajv reaches only through a $ref into an unknown keyword is checked all the same", () => {
    assertRefused(
      { "x-library": { name: { pattern: "^(a+)+$" } }, properties: { a: { $ref: "#/x-library/name" } } },
      "/schema/x-library/name/pattern",
      /exponential time/,
    );
  });
});

describe("several problems", () => {
  test("every problem is in details, in document order; the error names the first", () => {
    const detail = refusal({
      required: "x",
      properties: { a: { type: "strng" }, b: { type: "string", pattern: "(" }, c: { $ref: "#/nope" } },
    });
    assert.equal(detail.path, "/schema/required");
    assert.equal(detail.message, '"required" must be array (and 3 more in details)');
    assert.deepEqual(
      detail.details?.map((d) => d.path),
      [
        "/schema/required",
        "/schema/properties/a/type",
        "/schema/properties/b/pattern",
        "/schema/properties/c/$ref",
      ],
    );
  });
});

describe("good schemas", () => {
  test("ordinary schemas in both dialects, with local refs, anchors and patterns, are registered", () => {
    const schemas = [
      {
        $schema: DRAFT_07,
        type: "object",
        required: ["id"],
        definitions: { id: { type: "string", pattern: "^cus_[0-9]{6}$" } },
        properties: { id: { $ref: "#/definitions/id" }, tags: { type: "array", items: { type: "string" } } },
      },
      {
        $schema: DRAFT_2020,
        $defs: { street: { $anchor: "street", type: "string", maxLength: 200 } },
        type: "object",
        properties: {
          street: { $ref: "#street" },
          uuid: { type: "string", pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$" },
          name: { type: "string", pattern: "^[\\p{L}\\p{M}' -]{1,100}$" },
        },
        patternProperties: { "^x-[a-z]+$": { type: "string" } },
      },
      { type: "object", properties: { self: { $ref: "#" } } },
    ];
    for (const schema of schemas) {
      const registration = parseSchemaRegistration(
        JSON.stringify({ name: "orders", namespace: "shop", schema }),
      );
      assert.equal(registration.subject, "shop.orders");
      assert.deepEqual(registration.schema, schema);
    }
  });
});

/** Patterns people write, with inputs that probe classes, escapes, anchors and unicode. */
const EQUIVALENCE: readonly (readonly [string, readonly string[]])[] = [
  ["^[a-z]+$", ["abc", "Abc", "", "abc\n", "ñ"]],
  ["^cus_[0-9]{6}$", ["cus_012345", "cus_01234", "cus_0123456", "CUS_012345"]],
  ["^\\d{3}-\\d{4}$", ["555-1234", "٥٥٥-١٢٣٤", "555-12345"]],
  ["^[\\w.+-]+@\\w+\\.com$", ["me@example.com", "first.last+tag@example.com", "mé@example.com", "@x.com"]],
  ["^\\S+$", ["word", "two words", "nbsp\u00a0inside", "tab\tinside"]],
  ["^\\s*$", ["", "   ", "\u00a0\u2003", "\ufeff", "x"]],
  ["^.$", ["a", "👍", "\n", "ab", "é"]],
  ["^[^<>]*$", ["plain text", "<b>", "日本語 ok"]],
  ["^\\p{L}+$", ["ñandú", "日本語", "Ελληνικά", "abc1", "👍"]],
  ["^\\p{Lu}", ["Élan", "élan", "Ωmega"]],
  ["^[\\u{1F600}-\\u{1F64F}]$", ["😀", "🙏", "👍"]],
  ["cat", ["cat", "concatenate", "Cat"]],
  ["^(?:[a-z0-9-]+\\.)+[a-z]{2,}$", ["example.com", "a.b.co", "localhost", "-x.io"]],
  ["^v\\d+\\.\\d+\\.\\d+(-[0-9A-Za-z.-]+)?$", ["v1.2.3", "v1.2.3-rc.1", "1.2.3"]],
  ["^(?!\\s).+$", ["ok", " leading", ""]],
  ["\\bword\\b", ["a word here", "swordfish", "word"]],
];

describe("the regex engine: JS RegExp with the u flag, as ajv passes it", () => {
  for (const [pattern, inputs] of EQUIVALENCE) {
    test(`${pattern} is accepted, and matches exactly as new RegExp(pattern, "u")`, () => {
      const schema = { type: "string", pattern };
      const registration = parseSchemaRegistration(JSON.stringify({ name: "p", schema }));
      const validator = compiled({
        subject: registration.subject,
        version: 1,
        schema: registration.schema,
        fingerprint: "",
        createdAt: "",
      });
      const reference = new RegExp(pattern, "u");
      for (const input of inputs) {
        assert.equal(validator.validate(input).length === 0, reference.test(input), JSON.stringify(input));
      }
    });
  }
});

describe("widening bounded repeats, the checker's fast path", () => {
  test("every {m,n} quantifier becomes * or +; braces in classes, escapes and \\p{..} stay", () => {
    const cases: [string, string][] = [
      ["^[0-9a-f]{8}-[0-9a-f]{4}$", "^[0-9a-f]+-[0-9a-f]+$"],
      ["a{0,3}?b{2,}c{1}", "a*?b+c+"],
      ["\\p{L}{2,5}", "\\p{L}+"],
      ["\\u{1F600}{2}", "\\u{1F600}+"],
      ["[a{2}]\\{2}", "[a{2}]\\{2}"],
      ["[\\]{]{3}", "[\\]{]+"],
    ];
    for (const [pattern, widened] of cases) assert.equal(widenBoundedRepeats(pattern), widened, pattern);
  });
});
