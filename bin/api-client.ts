/** What the CLI's API commands share: the default URL and key, one JSON call, one refusal line. */
import { readFileSync } from "node:fs";

export const DEFAULT_API_URL = "http://127.0.0.1:8080";

/** `--key`, else SLUICE_API_KEY, else the dev runner's key in .sluice/dev-key. */
export function defaultKey(): string | undefined {
  if (process.env.SLUICE_API_KEY) return process.env.SLUICE_API_KEY;
  try {
    return readFileSync(".sluice/dev-key", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `--url`, else SLUICE_URL, else the local runner; without a trailing slash. */
export function apiBase(url: string | undefined): string {
  return (url ?? process.env.SLUICE_URL ?? DEFAULT_API_URL).replace(/\/+$/, "");
}

export interface ApiAnswer {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

/** A JSON call against the API; a body that is not JSON becomes a NOT_JSON error with its start. */
export function apiCaller(base: string, key: string | undefined) {
  return async (method: string, path: string, body?: unknown): Promise<ApiAnswer> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    try {
      return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
    } catch {
      return { status: res.status, json: { error: { code: "NOT_JSON", message: text.slice(0, 200) } } };
    }
  };
}

/** `refused (409 CODE): message at /path`, from an error answer. */
export function refusalLine(status: number, json: Record<string, unknown>): string {
  const e = (json.error ?? {}) as { code?: string; message?: string; path?: string };
  return `refused (${status} ${e.code ?? "?"}): ${e.message ?? ""}${e.path ? ` at ${e.path}` : ""}\n`;
}
