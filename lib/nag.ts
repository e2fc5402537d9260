/**
 * Acknowledging cdk-nag AwsSolutions findings. Each call sits beside the resource it is about, with
 * the reason; only aws-cdk-lib is needed here, so the constructs work in apps without cdk-nag.
 */
import { Stack, Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

const PACK = "AwsSolutions";

/** Acknowledges one finding (`AwsSolutions-S1`, `AwsSolutions-IAM5[...]`) on `scope` and below. */
export function acknowledge(scope: IConstruct, finding: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${PACK}::${finding}`, reason });
}

/**
 * Acknowledges the IAM5 findings of wildcard resources: cdk-nag names each by the resource with
 * references flattened (`<BucketLogicalId.Arn>/errors/p/*`), so the same flattening builds the id.
 */
export function acknowledgeWildcardResources(
  scope: IConstruct,
  resources: readonly string[],
  reason: string,
): void {
  const stack = Stack.of(scope);
  for (const resource of resources) {
    const flat = flattenReference(stack.resolve(resource));
    if (flat.includes("*")) acknowledge(scope, `AwsSolutions-IAM5[Resource::${flat}]`, reason);
  }
}

function flattenReference(node: unknown): string {
  if (node === undefined) return "";
  if (typeof node === "string") return node.replace(/\$\{/g, "<").replace(/\}/g, ">");
  if (typeof node === "object" && node !== null) {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o["Fn::Join"])) {
      const [delimiter, items] = o["Fn::Join"] as [string, unknown[]];
      return items.map(flattenReference).join(delimiter);
    }
    if (o["Fn::Sub"] !== undefined) return flattenReference(o["Fn::Sub"]);
    if (Array.isArray(o["Fn::GetAtt"])) {
      const [resource, attribute] = o["Fn::GetAtt"] as [unknown, unknown];
      return `<${flattenReference(resource)}.${flattenReference(attribute)}>`;
    }
    if (o["Fn::ImportValue"] !== undefined) return flattenReference(o["Fn::ImportValue"]);
    if (o.Ref !== undefined) return `<${flattenReference(o.Ref)}>`;
  }
  return JSON.stringify(node);
}
