export type StackStartErrorCode =
  | "PORT_IN_USE"
  | "JAVA_MISSING"
  | "BACKEND_FAILED"
  | "DOWNLOAD_FAILED"
  | "STATE_DIR_IN_USE";

/** A start-up failure the user can fix; `hint` says how. The CLI prints both without a stack trace. */
export class StackStartError extends Error {
  override readonly name = "StackStartError";
  readonly code: StackStartErrorCode;
  readonly hint: string;

  constructor(code: StackStartErrorCode, message: string, hint: string) {
    super(message);
    this.code = code;
    this.hint = hint;
  }
}

export function backendFailed(name: string, error: unknown, hint: string): StackStartError {
  const detail = error instanceof Error ? error.message : String(error);
  return new StackStartError("BACKEND_FAILED", `${name} failed to start: ${detail}`, hint);
}
