/** What `/v1/status` shows of the S3 endpoint (`s3Endpoint`): requests by operation, errors by code, body bytes. */
export interface S3EndpointStatus {
  requests: Record<string, number>;
  errors: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
}

/** Counters of the S3 endpoint, in this gateway process. */
export class S3EndpointStats {
  private readonly requests = new Map<string, number>();
  private readonly errors = new Map<string, number>();
  bytesIn = 0;
  bytesOut = 0;

  request(operation: string): void {
    this.requests.set(operation, (this.requests.get(operation) ?? 0) + 1);
  }

  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  snapshot(): S3EndpointStatus {
    return { requests: Object.fromEntries(this.requests), errors: Object.fromEntries(this.errors), bytesIn: this.bytesIn, bytesOut: this.bytesOut };
  }
}
