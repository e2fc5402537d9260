/**
 * The local console (`/console`), served by the dev runner only, never deployed: a static page
 * (bin/console/) and `/console/api/...`, which forwards the page's reads (GET only, a fixed list
 * of API routes) to the runner's own API with the dev key added. The key never reaches the
 * browser or a log line: a person signs in with a one-time link the runner prints at start (its
 * token works once) or by pasting the dev key into the sign-in form; either sets an HttpOnly,
 * SameSite=Strict session cookie that the API forwarding alone accepts.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { pipeline } from "node:stream";

const STATIC_DIR = new URL("../../bin/console/", import.meta.url);
const STATIC: Readonly<Record<string, readonly [file: string, type: string]>> = {
  "/console/": ["index.html", "text/html; charset=utf-8"],
  "/console/console.js": ["console.js", "text/javascript; charset=utf-8"],
  "/console/console.css": ["console.css", "text/css; charset=utf-8"],
};
const COOKIE = "sluice_console";
const SESSION_MS = 12 * 3600_000;
/** The API reads the page makes; anything else is refused before it reaches the API. */
const READS = [/^\/v1\/streams$/, /^\/v1\/keys$/, /^\/v1\/streams\/[^/]+\/(stats|files|tail)$/] as const;

export interface ConsoleServer {
  /** Handles `/console...` requests; false for anything else (the API's). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** A sign-in link that works once; a new one replaces the last. */
  oneTimeLink(): string;
  /** Where API reads go, once the runner listens. */
  setApiBase(url: string): void;
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

function cookieOf(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === COOKIE) return value.join("=");
  }
  return undefined;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers = {}) {
  res.writeHead(status, {
    "content-type": type,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy":
      "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    ...headers,
  });
  res.end(body);
}

const SIGN_IN = (message: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sluice console: sign in</title>
<link rel="stylesheet" href="/console/console.css"></head>
<body><main class="sign-in"><h1>Sluice console</h1><p>${message}</p>
<form method="post" action="/console/login"><label>Dev API key <input name="key" type="password" autocomplete="off" required></label>
<button type="submit">Sign in</button></form>
<p class="hint">The key is in <code>.sluice/dev-key</code>; <code>npm start</code> also prints a one-time link.</p></main></body></html>`;

async function formKey(req: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 4096) break;
  }
  return new URLSearchParams(body).get("key")?.trim() ?? "";
}

/** `devKey` undefined: the manifest turns API keys off, and the console needs no sign-in either. */
export function createConsoleServer(devKey: string | undefined): ConsoleServer {
  const sessions = new Map<string, number>();
  let token: string | undefined;
  let apiBase = "";

  const signedIn = (req: IncomingMessage) => {
    if (devKey === undefined) return true;
    const sid = cookieOf(req);
    const until = sid === undefined ? undefined : sessions.get(sid);
    if (until === undefined) return false;
    if (until < Date.now()) {
      sessions.delete(sid!);
      return false;
    }
    return true;
  };
  const startSession = (res: ServerResponse) => {
    const sid = randomBytes(32).toString("base64url");
    sessions.set(sid, Date.now() + SESSION_MS);
    res.writeHead(303, {
      location: "/console/",
      "set-cookie": `${COOKIE}=${sid}; HttpOnly; SameSite=Strict; Path=/console; Max-Age=${SESSION_MS / 1000}`,
      "cache-control": "no-store",
    });
    res.end();
  };

  const forward = (req: IncomingMessage, res: ServerResponse, path: string, search: string) => {
    const upstream = http.request(`${apiBase}${path}${search}`, {
      method: "GET",
      headers: {
        accept: req.headers.accept ?? "application/json",
        ...(devKey === undefined ? {} : { authorization: `Bearer ${devKey}` }),
      },
    });
    upstream.on("response", (answer) => {
      res.writeHead(answer.statusCode ?? 502, {
        "content-type": answer.headers["content-type"] ?? "application/json",
        "cache-control": "no-store",
      });
      pipeline(answer, res, () => {});
    });
    upstream.on("error", () => {
      if (!res.headersSent)
        send(res, 502, "application/json", JSON.stringify({ error: { code: "UNAVAILABLE" } }));
      else res.destroy();
    });
    // A closed page ends its tail upstream too.
    res.on("close", () => upstream.destroy());
    upstream.end();
  };

  return {
    setApiBase(url) {
      apiBase = url;
    },
    oneTimeLink() {
      token = randomBytes(24).toString("base64url");
      return `${apiBase}/console/login?token=${token}`;
    },
    handle(req, res) {
      const url = new URL(req.url ?? "/", "http://localhost");
      const path = url.pathname;
      if (path !== "/console" && !path.startsWith("/console/")) return false;
      if (path === "/console") {
        res.writeHead(301, { location: "/console/" });
        res.end();
        return true;
      }
      if (path === "/console/login") {
        if (req.method === "GET") {
          const given = url.searchParams.get("token") ?? "";
          if (token !== undefined && given !== "" && same(given, token)) {
            token = undefined;
            startSession(res);
          } else {
            send(
              res,
              401,
              "text/html; charset=utf-8",
              SIGN_IN("That link was used already or is not this run's: sign in with the dev key."),
            );
          }
          return true;
        }
        if (req.method === "POST") {
          void formKey(req).then((key) => {
            if (devKey === undefined || (key !== "" && same(key, devKey))) startSession(res);
            else send(res, 401, "text/html; charset=utf-8", SIGN_IN("That is not the dev key."));
          });
          return true;
        }
      }
      const file = STATIC[path];
      if (file && req.method === "GET") {
        if (path === "/console/" && !signedIn(req)) {
          send(res, 401, "text/html; charset=utf-8", SIGN_IN("Sign in to see this run's streams."));
          return true;
        }
        send(res, 200, file[1], readFileSync(new URL(file[0], STATIC_DIR)));
        return true;
      }
      if (path.startsWith("/console/api/")) {
        const apiPath = path.slice("/console/api".length);
        if (!signedIn(req)) {
          send(
            res,
            401,
            "application/json",
            JSON.stringify({ error: { code: "UNAUTHENTICATED", message: "sign in at /console/" } }),
          );
        } else if (req.method !== "GET" || !READS.some((r) => r.test(apiPath))) {
          send(
            res,
            403,
            "application/json",
            JSON.stringify({ error: { code: "FORBIDDEN", message: "the console only reads" } }),
          );
        } else {
          forward(req, res, apiPath, url.search);
        }
        return true;
      }
      send(res, 404, "application/json", JSON.stringify({ message: "Not Found" }));
      return true;
    },
  };
}
