/**
 * grpc.health.v1.Health: SERVING for the server ("") and the ingest service while the proxy
 * runs, NOT_SERVING once it starts shutting down, so load balancers stop sending before the
 * drain. It reports the proxy, not the ingest API behind it: calls say when that is down.
 */
import type {
  ServerUnaryCall,
  ServerWritableStream,
  sendUnaryData,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";

type ServingStatus = "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

interface HealthCheckRequest {
  readonly service?: string;
}

interface HealthCheckResponse {
  readonly status: ServingStatus;
}

export class HealthState {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>();

  constructor(services: readonly string[]) {
    for (const service of ["", ...services]) this.statuses.set(service, "SERVING");
  }

  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Every known service stops serving; watchers hear it and their calls end. */
  stopServing(): void {
    for (const service of this.statuses.keys()) this.statuses.set(service, "NOT_SERVING");
    for (const call of this.watchers) {
      call.write({ status: this.statuses.get(call.request.service ?? "") ?? "SERVICE_UNKNOWN" });
      call.end();
    }
    this.watchers.clear();
  }

  service(): UntypedServiceImplementation {
    return {
      Check: (
        call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
        callback: sendUnaryData<HealthCheckResponse>,
      ) => {
        const current = this.statuses.get(call.request.service ?? "");
        if (current === undefined) callback({ code: status.NOT_FOUND, details: "unknown service" });
        else callback(null, { status: current });
      },
      Watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
        const current = this.statuses.get(call.request.service ?? "") ?? "SERVICE_UNKNOWN";
        call.write({ status: current });
        if (current === "NOT_SERVING") {
          call.end();
          return;
        }
        this.watchers.add(call);
        call.on("cancelled", () => this.watchers.delete(call));
      },
    } as UntypedServiceImplementation;
  }
}
