/** Specification of the schema compatibility checker: a table of schema pairs, judged in every mode and checked against records. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import type { JsonSchema } from "../../functions/core/manifest/types.ts";
import { planColumns } from "../../functions/core/parquet/columns.ts";
import { COLUMN_NAMES, columnOf, rootColumn } from "../../functions/core/schema-compat/column-kinds.ts";
import {
  COMPATIBILITY_MODES,
  type CompatibilityMode,
  checkCompatibility,
  DEFAULT_COMPATIBILITY,
  type Incompatibility,
  isCompatibilityMode,
} from "../../functions/core/schema-compat/index.ts";

type Direction = "backward" | "forward";

interface Case {
  readonly name: string;
  readonly old: JsonSchema;
  readonly new: JsonSchema;
  readonly backward: boolean;
  readonly forward: boolean;
  /** Findings that must be among those reported: pointer exactly, reason as a substring. */
  readonly expect?: readonly { pointer: string; reason: string; direction?: Direction }[];
  /** Records for the soundness check. */
  readonly samples?: readonly unknown[];
  /** Directions in which some sample must show the break (not all breaks show in JSON: column types). */
  readonly witness?: readonly Direction[];
}

const S = { type: "string" };
const I = { type: "integer" };
const N = { type: "number" };
const obj = (properties: JsonSchema, rest: JsonSchema = {}): JsonSchema => ({
  type: "object",
  properties,
  ...rest,
});
const closed = { additionalProperties: false };
/** A tree of named nodes, through a recursive `$ref`. */
const tree = (props: JsonSchema = {}, rest: JsonSchema = {}): JsonSchema => ({
  definitions: {
    node: obj(
      { name: S, children: { type: "array", items: { $ref: "#/definitions/node" } }, ...props },
      rest,
    ),
  },
  ...obj({ root: { $ref: "#/definitions/node" } }),
});

const CASES: readonly Case[] = [
  // Identity and annotations
  {
    name: "identical schemas",
    old: obj({ a: S, n: I }, { required: ["a"] }),
    new: obj({ a: S, n: I }, { required: ["a"] }),
    backward: true,
    forward: true,
    samples: [{ a: "x" }, { a: "x", n: 2 }, { n: 2 }],
  },
  {
    name: "reordered keys and changed annotations",
    old: {
      type: "object",
      title: "v1",
      properties: { a: { type: "string", description: "old" }, n: I },
      required: ["a"],
    },
    new: {
      required: ["a"],
      $comment: "reworded",
      properties: {
        n: { examples: [1], type: "integer", default: 3 },
        a: { description: "new", type: "string" },
      },
      type: "object",
    },
    backward: true,
    forward: true,
    samples: [{ a: "x", n: 1 }, { a: "x" }, { n: 1 }],
  },
  {
    name: "a root without type is the same object as one with it",
    old: { properties: { a: S } },
    new: obj({ a: S }),
    backward: true,
    forward: true,
    samples: [{ a: "x" }, { a: 1 }],
  },
  // Properties and open or closed objects
  {
    name: "optional property added to an open object",
    old: obj({ a: S }),
    new: obj({ a: S, b: S }),
    backward: true,
    forward: true,
    samples: [{ a: "x" }, { a: "x", b: "y" }, { a: "x", b: 5 }],
  },
  {
    name: "optional property removed, candidate open",
    old: obj({ a: S, b: S }),
    new: obj({ a: S }),
    backward: true,
    forward: true,
    samples: [{ a: "x" }, { a: "x", b: "y" }, { a: "x", b: 5 }],
  },
  {
    name: "optional property removed, candidate closed",
    old: obj({ a: S, b: S }, closed),
    new: obj({ a: S }, closed),
    backward: false,
    forward: true,
    expect: [
      { pointer: "/properties/b", reason: 'field "b" removed from a closed object (pointer into version 1)' },
    ],
    samples: [{ a: "x" }, { a: "x", b: "y" }],
    witness: ["backward"],
  },
  {
    name: "optional property added where the old object is closed",
    old: obj({ a: S }, closed),
    new: obj({ a: S, b: S }, closed),
    backward: true,
    forward: false,
    expect: [
      { pointer: "/properties/b", reason: 'new field "b" not allowed where additionalProperties was false' },
    ],
    samples: [{ a: "x" }, { a: "x", b: "y" }],
    witness: ["forward"],
  },
  {
    name: "additionalProperties false -> true",
    old: obj({ a: S }, closed),
    new: obj({ a: S }, { additionalProperties: true }),
    backward: true,
    forward: false,
    expect: [
      {
        pointer: "/additionalProperties",
        reason: "additionalProperties false -> true",
        direction: "forward",
      },
    ],
    samples: [{ a: "x" }, { a: "x", z: 1 }],
    witness: ["forward"],
  },
  {
    name: "additionalProperties true -> false",
    old: obj({ a: S }, { additionalProperties: true }),
    new: obj({ a: S }, closed),
    backward: false,
    forward: true,
    expect: [{ pointer: "/additionalProperties", reason: "additionalProperties true -> false" }],
    samples: [{ a: "x" }, { a: "x", z: 1 }],
    witness: ["backward"],
  },
  {
    name: "additionalProperties absent -> false, in a nested struct",
    old: obj({ user: obj({ id: S }) }),
    new: obj({ user: obj({ id: S }, closed) }),
    backward: false,
    forward: true,
    expect: [
      { pointer: "/properties/user/additionalProperties", reason: "additionalProperties true -> false" },
    ],
    samples: [{ user: { id: "u" } }, { user: { id: "u", nick: "n" } }],
    witness: ["backward"],
  },
  {
    name: "schema-valued additionalProperties widened integer -> number",
    old: obj({ counts: { type: "object", additionalProperties: I } }),
    new: obj({ counts: { type: "object", additionalProperties: N } }),
    backward: true,
    forward: false,
    expect: [{ pointer: "/properties/counts/additionalProperties", reason: "type integer -> number" }],
    samples: [{ counts: { a: 1 } }, { counts: { a: 1.5 } }, { counts: {} }],
    witness: ["forward"],
  },
  {
    name: "schema-valued additionalProperties tightened",
    old: obj({ labels: { type: "object", additionalProperties: S } }),
    new: obj({ labels: { type: "object", additionalProperties: { type: "string", maxLength: 3 } } }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/properties/labels/additionalProperties/maxLength", reason: "maxLength none -> 3" }],
    samples: [{ labels: { a: "abc" } }, { labels: { a: "abcdef" } }],
    witness: ["backward"],
  },
  {
    name: "property declared where additionalProperties held a different type",
    old: obj({ a: S }, { additionalProperties: S }),
    new: obj({ a: S, p: I }, { additionalProperties: S }),
    backward: false,
    forward: false,
    expect: [
      { pointer: "/properties/p", reason: "type string -> integer", direction: "backward" },
      { pointer: "/properties/p", reason: "type string -> integer", direction: "forward" },
    ],
    samples: [
      { a: "x", p: "y" },
      { a: "x", p: 1 },
    ],
    witness: ["backward", "forward"],
  },
  // required and defaults
  {
    name: "new required property with a default",
    old: obj({ a: S }),
    new: obj({ a: S, region: { type: "string", default: "eu" } }, { required: ["region"] }),
    backward: true,
    forward: true,
    samples: [{ a: "x" }, { a: "x", region: "us" }],
  },
  {
    name: "new required property without a default",
    old: obj({ a: S }, { required: ["a"] }),
    new: obj({ a: S, region: S }, { required: ["a", "region"] }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/required/1", reason: 'new required field "region" has no default' }],
    samples: [{ a: "x" }, { a: "x", region: "eu" }],
    witness: ["backward"],
  },
  {
    name: "optional property becomes required",
    old: obj({ a: S, b: S }),
    new: obj({ a: S, b: S }, { required: ["b"] }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/required/0", reason: 'optional field "b" became required and has no default' }],
    samples: [{ a: "x" }, { a: "x", b: "y" }],
    witness: ["backward"],
  },
  {
    name: "required property becomes optional",
    old: obj({ a: S, b: S }, { required: ["b"] }),
    new: obj({ a: S, b: S }),
    backward: true,
    forward: false,
    expect: [{ pointer: "/properties/b", reason: 'field "b" is no longer required' }],
    samples: [{ a: "x" }, { a: "x", b: "y" }],
    witness: ["forward"],
  },
  {
    name: "required property removed altogether",
    old: obj({ a: S, b: S }, { required: ["b"] }),
    new: obj({ a: S }),
    backward: true,
    forward: false,
    expect: [{ pointer: "/required/0", reason: 'required field "b" removed (pointer into version 1)' }],
    samples: [{ a: "x" }, { a: "x", b: "y" }],
    witness: ["forward"],
  },
  // Types and nullability
  {
    name: "integer -> number",
    old: obj({ n: I }),
    new: obj({ n: N }),
    backward: true,
    forward: false,
    expect: [{ pointer: "/properties/n", reason: "type integer -> number", direction: "forward" }],
    samples: [{ n: 1 }, { n: 1.5 }],
    witness: ["forward"],
  },
  {
    name: "number -> integer",
    old: obj({ n: N }),
    new: obj({ n: I }),
    backward: false,
    forward: false,
    expect: [
      { pointer: "/properties/n", reason: "type number -> integer", direction: "backward" },
      { pointer: "/properties/n", reason: "column type DOUBLE -> INT64", direction: "forward" },
    ],
    samples: [{ n: 1 }, { n: 1.5 }],
    witness: ["backward"],
  },
  {
    name: "string -> integer",
    old: obj({ v: S }),
    new: obj({ v: I }),
    backward: false,
    forward: false,
    expect: [{ pointer: "/properties/v", reason: "type string -> integer" }],
    samples: [{ v: "x" }, { v: 1 }],
    witness: ["backward", "forward"],
  },
  {
    name: 'null added with type ["string","null"]',
    old: obj({ s: S }),
    new: obj({ s: { type: ["string", "null"] } }),
    backward: true,
    forward: false,
    expect: [{ pointer: "/properties/s", reason: "type string -> string|null" }],
    samples: [{ s: "x" }, { s: null }],
    witness: ["forward"],
  },
  {
    name: 'null removed from type ["integer","null"]',
    old: obj({ n: { type: ["integer", "null"] } }),
    new: obj({ n: I }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/properties/n", reason: "type integer|null -> integer" }],
    samples: [{ n: 1 }, { n: null }],
    witness: ["backward"],
  },
  {
    name: "null added with anyOf [T, null]",
    old: obj({ s: { type: "string", format: "date-time" } }),
    new: obj({ s: { anyOf: [{ type: "string", format: "date-time" }, { type: "null" }] } }),
    backward: true,
    forward: false,
    expect: [{ pointer: "/properties/s", reason: "type string -> string|null" }],
    samples: [{ s: "2024-01-01T00:00:00Z" }, { s: null }],
    witness: ["forward"],
  },
  {
    name: "the two nullable spellings are the same schema",
    old: obj({ s: { type: ["string", "null"], maxLength: 4 } }),
    new: obj({
      s: {
        anyOf: [
          { type: "string", maxLength: 4 },
          { type: "null", description: "absent" },
        ],
      },
    }),
    backward: true,
    forward: true,
    samples: [{ s: null }, { s: "abcd" }, { s: "abcde" }, { s: 1 }],
  },
  {
    name: "a referenced object made nullable with oneOf",
    old: { definitions: { user: obj({ id: S }) }, ...obj({ user: { $ref: "#/definitions/user" } }) },
    new: {
      definitions: { user: obj({ id: S }) },
      ...obj({ user: { oneOf: [{ $ref: "#/definitions/user" }, { type: "null" }] } }),
    },
    backward: true,
    forward: false,
    expect: [{ pointer: "/properties/user", reason: "type object -> object|null", direction: "forward" }],
    samples: [{ user: { id: "u" } }, { user: null }],
    witness: ["forward"],
  },
  {
    name: "an object made nullable while a nested type changes: both are reported",
    old: obj({ u: obj({ name: S }) }),
    new: obj({ u: { anyOf: [obj({ name: I }), { type: "null" }] } }),
    backward: false,
    forward: false,
    expect: [
      {
        pointer: "/properties/u/anyOf/0/properties/name",
        reason: "type string -> integer",
        direction: "backward",
      },
      { pointer: "/properties/u", reason: "type object -> object|null", direction: "forward" },
      {
        pointer: "/properties/u/anyOf/0/properties/name",
        reason: "type string -> integer",
        direction: "forward",
      },
    ],
    samples: [{ u: { name: "x" } }, { u: { name: 1 } }, { u: null }],
    witness: ["backward", "forward"],
  },
  // enum and const
  {
    name: "enum value added",
    old: obj({ k: { type: "string", enum: ["a", "b"] } }),
    new: obj({ k: { type: "string", enum: ["a", "b", "c"] } }),
    backward: true,
    forward: false,
    expect: [{ pointer: "/properties/k/enum", reason: 'enum value "c" added' }],
    samples: [{ k: "a" }, { k: "c" }],
    witness: ["forward"],
  },
  {
    name: "enum value removed",
    old: obj({ k: { enum: ["a", "b"] } }),
    new: obj({ k: { enum: ["a"] } }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/properties/k/enum", reason: 'enum value "b" removed' }],
    samples: [{ k: "a" }, { k: "b" }],
    witness: ["backward"],
  },
  {
    name: "enum added to a plain string",
    old: obj({ k: S }),
    new: obj({ k: { type: "string", enum: ["a", "b"] } }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/properties/k/enum", reason: 'enum ["a","b"] added' }],
    samples: [{ k: "a" }, { k: "z" }],
    witness: ["backward"],
  },
  {
    name: "const changed",
    old: obj({ kind: { const: "click" } }),
    new: obj({ kind: { const: "view" } }),
    backward: false,
    forward: false,
    expect: [
      { pointer: "/properties/kind/const", reason: 'const "click" -> "view"', direction: "backward" },
      { pointer: "/properties/kind/const", reason: 'const "click" -> "view"', direction: "forward" },
    ],
    samples: [{ kind: "click" }, { kind: "view" }],
    witness: ["backward", "forward"],
  },
  {
    name: "an untyped string enum gains its type",
    old: obj({ k: { enum: ["a", "b"] } }),
    new: obj({ k: { type: "string", enum: ["b", "a"] } }),
    backward: true,
    forward: true,
    samples: [{ k: "a" }, { k: "c" }],
  },
  // Formats and column types
  {
    name: "date-time string -> plain string",
    old: obj({ ts: { type: "string", format: "date-time" } }),
    new: obj({ ts: S }),
    backward: false,
    forward: false,
    expect: [{ pointer: "/properties/ts", reason: "column type TIMESTAMP -> UTF8" }],
    samples: [{ ts: "2024-05-01T10:00:00Z" }, { ts: "yesterday" }],
    witness: ["forward"],
  },
  {
    name: "plain string -> date",
    old: obj({ day: S }),
    new: obj({ day: { type: "string", format: "date" } }),
    backward: false,
    forward: false,
    expect: [{ pointer: "/properties/day", reason: "column type UTF8 -> DATE" }],
    samples: [{ day: "2024-05-01" }, { day: "May 1st" }],
    witness: ["backward"],
  },
  {
    name: "format email added",
    old: obj({ e: S }),
    new: obj({ e: { type: "string", format: "email" } }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/properties/e/format", reason: "format none -> email" }],
    samples: [{ e: "a@b.io" }, { e: "not an address" }],
    witness: ["backward"],
  },
  {
    name: "format email removed",
    old: obj({ e: { type: "string", format: "email" } }),
    new: obj({ e: S }),
    backward: true,
    forward: false,
    expect: [{ pointer: "/properties/e", reason: "format email -> none" }],
    samples: [{ e: "a@b.io" }, { e: "not an address" }],
    witness: ["forward"],
  },
  {
    name: "struct -> free-form object",
    old: obj({ user: obj({ name: S }) }),
    new: obj({ user: { type: "object" } }),
    backward: false,
    forward: false,
    expect: [{ pointer: "/properties/user", reason: "column type STRUCT -> JSON" }],
    samples: [{ user: { name: "n" } }, { user: { name: 1 } }],
  },
  {
    name: "type dropped from a string: any value, JSON column",
    old: obj({ v: S }),
    new: obj({ v: { description: "anything" } }),
    backward: false,
    forward: false,
    expect: [
      { pointer: "/properties/v", reason: "column type UTF8 -> JSON", direction: "backward" },
      { pointer: "/properties/v", reason: "type string -> any", direction: "forward" },
    ],
    samples: [{ v: "x" }, { v: 1 }],
    witness: ["forward"],
  },
  // Arrays and nesting
  {
    name: "array item type changed",
    old: obj({ tags: { type: "array", items: S } }),
    new: obj({ tags: { type: "array", items: I } }),
    backward: false,
    forward: false,
    expect: [{ pointer: "/properties/tags/items", reason: "type string -> integer" }],
    samples: [{ tags: ["a"] }, { tags: [1] }, { tags: [] }],
    witness: ["backward", "forward"],
  },
  {
    name: "array items widened integer -> number",
    old: obj({ xs: { type: "array", items: I } }),
    new: obj({ xs: { type: "array", items: N } }),
    backward: true,
    forward: false,
    expect: [{ pointer: "/properties/xs/items", reason: "type integer -> number", direction: "forward" }],
    samples: [{ xs: [1, 2] }, { xs: [0.5] }],
    witness: ["forward"],
  },
  {
    name: "nested property type changed",
    old: obj({ user: obj({ name: S, age: I }) }),
    new: obj({ user: obj({ name: I, age: I }) }),
    backward: false,
    forward: false,
    expect: [{ pointer: "/properties/user/properties/name", reason: "type string -> integer" }],
    samples: [{ user: { name: "n", age: 3 } }, { user: { name: 7 } }],
    witness: ["backward", "forward"],
  },
  {
    name: "optional property added to a nested struct",
    old: obj({ user: obj({ name: S }) }),
    new: obj({ user: obj({ name: S, nick: S }) }),
    backward: true,
    forward: true,
    samples: [{ user: { name: "n" } }, { user: { name: "n", nick: 3 } }, { user: { name: "n", nick: "k" } }],
  },
  {
    name: "property removed from a closed nested struct",
    old: obj({ user: obj({ name: S, age: I }, closed) }),
    new: obj({ user: obj({ name: S }, closed) }),
    backward: false,
    forward: true,
    expect: [
      {
        pointer: "/properties/user/properties/age",
        reason: 'field "age" removed from a closed object (pointer into version 1)',
      },
    ],
    samples: [{ user: { name: "n" } }, { user: { name: "n", age: 3 } }],
    witness: ["backward"],
  },
  {
    name: "required property added to the objects of an array",
    old: obj({ lines: { type: "array", items: obj({ sku: S }) } }),
    new: obj({ lines: { type: "array", items: obj({ sku: S, qty: I }, { required: ["qty"] }) } }),
    backward: false,
    forward: true,
    expect: [
      { pointer: "/properties/lines/items/required/0", reason: 'new required field "qty" has no default' },
    ],
    samples: [{ lines: [{ sku: "a" }] }, { lines: [{ sku: "a", qty: 2 }] }, { lines: [] }],
    witness: ["backward"],
  },
  // Numeric, string and array constraints
  {
    name: "maxLength tightened",
    old: obj({ s: { type: "string", maxLength: 10 } }),
    new: obj({ s: { type: "string", maxLength: 5 } }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/properties/s/maxLength", reason: "maxLength 10 -> 5" }],
    samples: [{ s: "abc" }, { s: "abcdefgh" }],
    witness: ["backward"],
  },
  {
    name: "minLength loosened",
    old: obj({ s: { type: "string", minLength: 3 } }),
    new: obj({ s: { type: "string", minLength: 1 } }),
    backward: true,
    forward: false,
    expect: [{ pointer: "/properties/s/minLength", reason: "minLength 3 -> 1" }],
    samples: [{ s: "abc" }, { s: "a" }],
    witness: ["forward"],
  },
  {
    name: "minimum added",
    old: obj({ n: I }),
    new: obj({ n: { type: "integer", minimum: 0 } }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/properties/n/minimum", reason: "minimum none -> 0" }],
    samples: [{ n: 5 }, { n: -1 }],
    witness: ["backward"],
  },
  {
    name: "minimum 0 -> exclusiveMinimum 0",
    old: obj({ n: { type: "number", minimum: 0 } }),
    new: obj({ n: { type: "number", exclusiveMinimum: 0 } }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/properties/n/exclusiveMinimum", reason: "minimum 0 -> exclusiveMinimum 0" }],
    samples: [{ n: 0 }, { n: 0.1 }],
    witness: ["backward"],
  },
  {
    name: "maximum loosened",
    old: obj({ n: { type: "integer", maximum: 10 } }),
    new: obj({ n: { type: "integer", maximum: 20 } }),
    backward: true,
    forward: false,
    expect: [{ pointer: "/properties/n/maximum", reason: "maximum 10 -> 20" }],
    samples: [{ n: 5 }, { n: 15 }],
    witness: ["forward"],
  },
  {
    name: "multipleOf 2 -> 4",
    old: obj({ n: { type: "integer", multipleOf: 2 } }),
    new: obj({ n: { type: "integer", multipleOf: 4 } }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/properties/n/multipleOf", reason: "multipleOf 2 -> 4" }],
    samples: [{ n: 8 }, { n: 2 }, { n: 3 }],
    witness: ["backward"],
  },
  {
    name: "pattern changed",
    old: obj({ s: { type: "string", pattern: "^a" } }),
    new: obj({ s: { type: "string", pattern: "^b" } }),
    backward: false,
    forward: false,
    expect: [{ pointer: "/properties/s/pattern", reason: 'pattern "^a" -> "^b"' }],
    samples: [{ s: "ab" }, { s: "ba" }],
    witness: ["backward", "forward"],
  },
  {
    name: "pattern added",
    old: obj({ s: S }),
    new: obj({ s: { type: "string", pattern: "^[a-z]+$" } }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/properties/s/pattern", reason: 'pattern none -> "^[a-z]+$"' }],
    samples: [{ s: "abc" }, { s: "ABC" }],
    witness: ["backward"],
  },
  {
    name: "minItems added and uniqueItems turned on",
    old: obj({ tags: { type: "array", items: S } }),
    new: obj({ tags: { type: "array", items: S, minItems: 1, uniqueItems: true } }),
    backward: false,
    forward: true,
    expect: [
      { pointer: "/properties/tags/minItems", reason: "minItems none -> 1" },
      { pointer: "/properties/tags/uniqueItems", reason: "uniqueItems false -> true" },
    ],
    samples: [{ tags: ["a"] }, { tags: [] }, { tags: ["a", "a"] }],
    witness: ["backward"],
  },
  // Outside the subset
  {
    name: "not changed",
    old: obj({ s: { type: "string", not: { const: "x" } } }),
    new: obj({ s: { type: "string", not: { const: "y" } } }),
    backward: false,
    forward: false,
    expect: [
      {
        pointer: "/properties/s/not",
        reason: "unsupported change to not; only identical definitions are compatible",
      },
    ],
    samples: [{ s: "x" }, { s: "y" }],
    witness: ["backward", "forward"],
  },
  {
    name: "if/then/else identical with reordered keys",
    old: obj({
      p: {
        type: "object",
        properties: { kind: S, n: I },
        if: { properties: { kind: { const: "a" } } },
        // biome-ignore lint/suspicious/noThenProperty: the JSON Schema keyword
        then: { required: ["n"] },
        else: { not: { required: ["n"] } },
      },
    }),
    new: obj({
      p: {
        else: { not: { required: ["n"] } },
        // biome-ignore lint/suspicious/noThenProperty: the JSON Schema keyword
        then: { required: ["n"], description: "n is needed for a" },
        if: { properties: { kind: { const: "a" } } },
        properties: { n: I, kind: S },
        type: "object",
      },
    }),
    backward: true,
    forward: true,
    samples: [{ p: { kind: "a", n: 1 } }, { p: { kind: "a" } }, { p: { kind: "b", n: 1 } }],
  },
  {
    name: "a real union changed",
    old: obj({ u: { anyOf: [S, I] } }),
    new: obj({ u: { anyOf: [S, { type: "boolean" }] } }),
    backward: false,
    forward: false,
    expect: [{ pointer: "/properties/u/anyOf", reason: "unsupported change to anyOf" }],
    samples: [{ u: "x" }, { u: 1 }, { u: true }],
    witness: ["backward", "forward"],
  },
  {
    name: "patternProperties changed",
    old: obj({ m: { type: "object", patternProperties: { "^x-": S } } }),
    new: obj({ m: { type: "object", patternProperties: { "^x-": I } } }),
    backward: false,
    forward: false,
    expect: [
      { pointer: "/properties/m/patternProperties", reason: "unsupported change to patternProperties" },
    ],
    samples: [{ m: { "x-a": "s" } }, { m: { "x-a": 1 } }],
    witness: ["backward", "forward"],
  },
  {
    name: "dependencies changed",
    old: obj({ a: S, b: S }, { dependencies: { a: ["b"] } }),
    new: obj({ a: S, b: S }),
    backward: false,
    forward: false,
    expect: [{ pointer: "", reason: "unsupported change to dependencies" }],
    samples: [{ a: "x" }, { a: "x", b: "y" }],
    witness: ["forward"],
  },
  {
    name: "tuple items changed",
    old: obj({ pair: { type: "array", items: [S, I] } }),
    new: obj({ pair: { type: "array", items: [S, S] } }),
    backward: false,
    forward: false,
    expect: [{ pointer: "/properties/pair/items", reason: "unsupported change to items" }],
    samples: [{ pair: ["a", 1] }, { pair: ["a", "b"] }],
    witness: ["backward", "forward"],
  },
  // $ref, definitions and recursion
  {
    name: "an inline object moved into definitions",
    old: obj({ user: obj({ id: S, age: I }, { required: ["id"] }) }),
    new: {
      $defs: { user: obj({ id: S, age: I }, { required: ["id"] }) },
      ...obj({ user: { $ref: "#/$defs/user" } }),
    },
    backward: true,
    forward: true,
    samples: [{ user: { id: "u" } }, { user: { age: 3 } }, { user: { id: "u", age: "x" } }],
  },
  {
    name: "a single-item allOf around a ref is the ref",
    old: { definitions: { money: obj({ cents: I }) }, ...obj({ price: { $ref: "#/definitions/money" } }) },
    new: {
      definitions: { money: obj({ cents: I }) },
      ...obj({ price: { allOf: [{ $ref: "#/definitions/money" }], description: "in cents" } }),
    },
    backward: true,
    forward: true,
    samples: [{ price: { cents: 1 } }, { price: { cents: 1.5 } }],
  },
  {
    name: "a change inside a referenced definition",
    old: { definitions: { user: obj({ name: S }) }, ...obj({ user: { $ref: "#/definitions/user" } }) },
    new: { definitions: { user: obj({ name: I }) }, ...obj({ user: { $ref: "#/definitions/user" } }) },
    backward: false,
    forward: false,
    expect: [{ pointer: "/definitions/user/properties/name", reason: "type string -> integer" }],
    samples: [{ user: { name: "n" } }, { user: { name: 1 } }],
    witness: ["backward", "forward"],
  },
  {
    name: "a recursive definition, unchanged",
    old: tree(),
    new: tree(),
    backward: true,
    forward: true,
    samples: [
      { root: { name: "a", children: [{ name: "b", children: [{ name: "c", children: [] }] }] } },
      { root: { name: "a", children: [{ name: "b", children: [{ name: 1 }] }] } },
    ],
  },
  {
    name: "a recursive definition gains a required property",
    old: tree(),
    new: tree({ size: I }, { required: ["size"] }),
    backward: false,
    forward: true,
    expect: [{ pointer: "/definitions/node/required/0", reason: 'new required field "size" has no default' }],
    samples: [
      { root: { name: "a", children: [{ name: "b" }] } },
      { root: { name: "a", size: 1, children: [{ name: "b", size: 2, children: [] }] } },
    ],
    witness: ["backward"],
  },
];

const DIRECTION_OF: Readonly<Record<CompatibilityMode, readonly Direction[]>> = {
  NONE: [],
  BACKWARD: ["backward"],
  BACKWARD_TRANSITIVE: ["backward"],
  FORWARD: ["forward"],
  FORWARD_TRANSITIVE: ["forward"],
  FULL: ["backward", "forward"],
  FULL_TRANSITIVE: ["backward", "forward"],
};

const history = (...schemas: JsonSchema[]) => schemas.map((schema, i) => ({ version: i + 1, schema }));
const show = (found: readonly Incompatibility[]) =>
  found.map((f) => `${f.direction} ${f.pointer || "(root)"}: ${f.reason}`).join("\n") || "(none)";

describe("the compatibility table, in every mode, against one version", () => {
  it("has at least 40 cases", () => assert.ok(CASES.length >= 40, String(CASES.length)));
  for (const c of CASES) {
    it(`${c.name}: backward ${c.backward ? "compatible" : "incompatible"}, forward ${c.forward ? "compatible" : "incompatible"}`, () => {
      const verdict: Record<Direction, boolean> = { backward: c.backward, forward: c.forward };
      for (const mode of COMPATIBILITY_MODES) {
        const found = checkCompatibility(mode, c.new, history(c.old));
        const compatible = DIRECTION_OF[mode].every((d) => verdict[d]);
        assert.equal(found.length === 0, compatible, `${mode}:\n${show(found)}`);
        for (const f of found) {
          assert.ok(DIRECTION_OF[mode].includes(f.direction), `${mode} reported ${f.direction}`);
          assert.equal(f.version, 1);
        }
      }
      const all = checkCompatibility("FULL", c.new, history(c.old));
      for (const e of c.expect ?? []) {
        const hit = all.some(
          (f) =>
            f.pointer === e.pointer &&
            f.reason.includes(e.reason) &&
            (!e.direction || f.direction === e.direction),
        );
        assert.ok(hit, `expected ${e.direction ?? "any"} ${e.pointer}: ${e.reason}\ngot:\n${show(all)}`);
      }
    });
  }
});

describe("history", () => {
  // v1 had `legacy` as a string, v2 dropped it, v3 added `note`; the candidate brings `legacy` back as a number.
  const v1 = obj({ id: S, legacy: S }, { required: ["id"] });
  const v2 = obj({ id: S }, { required: ["id"] });
  const v3 = obj({ id: S, note: S }, { required: ["id"] });
  const candidate = obj({ id: S, note: S, legacy: I }, { required: ["id"] });

  it("BACKWARD compares with the latest version only, which the candidate can read", () => {
    assert.deepEqual(checkCompatibility("BACKWARD", candidate, history(v1, v2, v3)), []);
  });

  it("BACKWARD_TRANSITIVE names version 1, whose `legacy` strings the candidate cannot read", () => {
    assert.deepEqual(checkCompatibility("BACKWARD_TRANSITIVE", candidate, history(v1, v2, v3)), [
      { pointer: "/properties/legacy", reason: "type string -> integer", version: 1, direction: "backward" },
    ]);
  });

  it("FULL_TRANSITIVE reports both directions against version 1 and nothing against 2 and 3", () => {
    const found = checkCompatibility("FULL_TRANSITIVE", candidate, history(v1, v2, v3));
    assert.deepEqual(
      found.map((f) => [f.version, f.direction]),
      [
        [1, "backward"],
        [1, "forward"],
      ],
    );
  });

  it("takes the latest by version number even when the list is out of order", () => {
    const found = checkCompatibility("BACKWARD", candidate, [
      { version: 3, schema: v3 },
      { version: 1, schema: v1 },
    ]);
    assert.deepEqual(found, []);
  });

  it("NONE and an empty history never report anything", () => {
    assert.deepEqual(checkCompatibility("NONE", obj({ id: I }), history(v1)), []);
    assert.deepEqual(checkCompatibility("FULL_TRANSITIVE", obj({ id: I }), []), []);
  });
});

describe("several incompatibilities at once", () => {
  it("reports each with its own pointer, not just the first", () => {
    const old = obj(
      {
        id: S,
        kind: { enum: ["a", "b"] },
        ts: { type: "string", format: "date-time" },
        user: obj({ name: S, age: I }),
        tags: { type: "array", items: S },
      },
      { required: ["id"] },
    );
    const candidate = obj(
      {
        id: I,
        kind: { enum: ["a"] },
        ts: S,
        user: obj({ name: S, age: { type: "integer", minimum: 0 } }),
        tags: { type: "array", items: S, maxItems: 5 },
        region: S,
      },
      { required: ["id", "region"], additionalProperties: false },
    );
    const found = checkCompatibility("BACKWARD", candidate, history(old));
    assert.deepEqual(found.map((f) => [f.pointer, f.reason]).sort(), [
      ["/additionalProperties", "additionalProperties true -> false"],
      ["/properties/id", "type string -> integer"],
      ["/properties/kind/enum", 'enum value "b" removed'],
      ["/properties/tags/maxItems", "maxItems none -> 5"],
      ["/properties/ts", "column type TIMESTAMP -> UTF8"],
      ["/properties/user/properties/age/minimum", "minimum none -> 0"],
      ["/required/1", 'new required field "region" has no default'],
    ]);
    assert.ok(found.every((f) => f.version === 1 && f.direction === "backward"));
  });
});

describe("modes", () => {
  it("lists the seven modes, defaults to BACKWARD and recognises only those names", () => {
    assert.equal(COMPATIBILITY_MODES.length, 7);
    assert.equal(DEFAULT_COMPATIBILITY, "BACKWARD");
    for (const m of COMPATIBILITY_MODES) assert.ok(isCompatibilityMode(m));
    for (const v of ["backward", "FULL_TRANSITIVE ", "", 1, null, undefined])
      assert.equal(isCompatibilityMode(v), false);
  });
});

// Soundness: where the checker says compatible, every record the writer accepts is one the reader
// accepts. "Accepts" is ajv, with the reader filling in defaults. Undeclared members of an open
// object are outside the contract: where the reader declares such a member, the record is judged
// without it (its value stays in `_extra`); where the reader does not, it stays in.

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const plain = addFormats(new Ajv({ strict: false, allErrors: true }));
const withDefaults = addFormats(new Ajv({ strict: false, allErrors: true, useDefaults: true }));
const compiled = new Map<string, ValidateFunction>();

function validator(ajv: Ajv, schema: JsonSchema): ValidateFunction {
  const key = `${ajv === plain ? "p" : "d"}${JSON.stringify(schema)}`;
  let v = compiled.get(key);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(key, v);
  }
  return v;
}

const SCHEMA_VALUES = [
  "items",
  "additionalProperties",
  "not",
  "if",
  "then",
  "else",
  "contains",
  "propertyNames",
];
const SCHEMA_LISTS = ["allOf", "anyOf", "oneOf", "items"];
const SCHEMA_MAPS = ["properties", "patternProperties", "definitions", "$defs"];

/** The schema with every open object closed, so ajv names each undeclared member. */
function closeOpen(schema: unknown): unknown {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return schema;
  const s = schema as JsonSchema;
  const out: JsonSchema = { ...s };
  for (const k of SCHEMA_VALUES)
    if (out[k] !== undefined && !Array.isArray(out[k])) out[k] = closeOpen(out[k]);
  for (const k of SCHEMA_LISTS) if (Array.isArray(out[k])) out[k] = (out[k] as unknown[]).map(closeOpen);
  for (const k of SCHEMA_MAPS) {
    const m = out[k];
    if (typeof m === "object" && m !== null) {
      out[k] = Object.fromEntries(Object.entries(m).map(([name, v]) => [name, closeOpen(v)]));
    }
  }
  // The checker treats an untyped node as an open object too; a node made of `$ref`/`allOf`/`anyOf`
  // is closed where its parts are.
  const combines = ["$ref", "allOf", "anyOf", "oneOf"].some((k) => s[k] !== undefined);
  const types = Array.isArray(s.type) ? s.type : [s.type];
  const objecty =
    s.properties !== undefined || types.includes("object") || (s.type === undefined && !combines);
  if (objecty && (s.additionalProperties === undefined || s.additionalProperties === true)) {
    out.additionalProperties = false;
  }
  return out;
}

/** `instancePath \0 member` for each member the schema does not declare. */
function undeclared(schema: JsonSchema, record: unknown): Set<string> {
  const v = validator(plain, closeOpen(schema) as JsonSchema);
  v(record);
  return new Set(
    (v.errors ?? [])
      .filter((e: ErrorObject) => e.keyword === "additionalProperties")
      .map(
        (e) =>
          `${e.instancePath}\0${String((e.params as { additionalProperty: string }).additionalProperty)}`,
      ),
  );
}

function without(record: unknown, drop: Iterable<string>): unknown {
  const copy = structuredClone(record);
  for (const key of drop) {
    const [path, member] = key.split("\0") as [string, string];
    let cur: unknown = copy;
    for (const seg of path.split("/").slice(1)) {
      cur = (cur as Record<string, unknown>)[seg.replaceAll("~1", "/").replaceAll("~0", "~")];
    }
    delete (cur as Record<string, unknown>)[member];
  }
  return copy;
}

/** Whether the reader accepts what the writer wrote as `record`; undefined when the record says nothing. */
function readable(writer: JsonSchema, reader: JsonSchema, record: unknown): boolean | undefined {
  if (!validator(plain, writer)(record)) return undefined;
  const readerUndeclared = undeclared(reader, record);
  const outsideContract = [...undeclared(writer, record)].filter((k) => !readerUndeclared.has(k));
  // A member the reader requires is there (its presence is in the contract, its value is not), which
  // ajv cannot express; such a record gives no verdict.
  const check = validator(plain, reader);
  check(without(record, outsideContract));
  const required = (check.errors ?? [])
    .filter((e) => e.keyword === "required")
    .map((e) => `${e.instancePath}\0${String((e.params as { missingProperty: string }).missingProperty)}`);
  if (required.some((k) => outsideContract.includes(k))) return undefined;
  return validator(withDefaults, reader)(without(record, outsideContract));
}

describe("soundness against records", () => {
  for (const c of CASES.filter((x) => x.samples)) {
    it(`${c.name}`, () => {
      for (const direction of ["backward", "forward"] as const) {
        const [writer, reader] = direction === "backward" ? [c.old, c.new] : [c.new, c.old];
        const compatible = checkCompatibility(
          direction === "backward" ? "BACKWARD" : "FORWARD",
          c.new,
          history(c.old),
        );
        let broke = false;
        let written = 0;
        for (const record of c.samples ?? []) {
          const ok = readable(writer, reader, record);
          if (ok === undefined) continue;
          written++;
          if (!ok) broke = true;
          if (compatible.length === 0) {
            assert.ok(ok, `${direction}-compatible, but ${JSON.stringify(record)} is not readable`);
          }
        }
        assert.ok(written > 0, `no sample gives a ${direction} verdict`);
        if (c.witness?.includes(direction)) assert.ok(broke, `no sample shows the ${direction} break`);
      }
    });
  }
});

describe("column kinds follow parquet/columns.ts", () => {
  it("gives every top-level property of every case the kind planColumns gives its column", () => {
    for (const c of CASES) {
      for (const schema of [c.old, c.new]) {
        const plan = planColumns(schema);
        const root = rootColumn(schema);
        const props = (root.node?.properties ?? {}) as JsonSchema;
        for (const col of plan.columns) {
          if (!Object.hasOwn(props, col.name)) continue;
          const kind = COLUMN_NAMES[columnOf(props[col.name], schema, []).kind];
          assert.ok(col.type.startsWith(kind), `${c.name}: ${col.name} is ${col.type}, checker says ${kind}`);
        }
      }
    }
  });
});
