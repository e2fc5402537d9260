/**
 * The registry behind `custom` steps. It lives apart from custom.ts so that registration files
 * can import `register` without importing custom.ts, which imports them.
 */
export type CustomTransform = (
  record: Record<string, unknown>,
  options: Readonly<Record<string, unknown>>,
) => Record<string, unknown> | null;

const registry = new Map<string, CustomTransform>();

export function register(name: string, fn: CustomTransform): void {
  if (registry.has(name)) throw new Error(`custom transform ${name} is registered twice`);
  registry.set(name, fn);
}

export function customTransform(name: string): CustomTransform | undefined {
  return registry.get(name);
}

export function customTransformNames(): ReadonlySet<string> {
  return new Set(registry.keys());
}
