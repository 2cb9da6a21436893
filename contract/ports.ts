// Ports the operator's Services and probes point at, and the processes listen on.

/** `shardline runtime`: the Kinesis API (HTTP/1.1 and h2c), /healthz, /metrics. */
export const RUNTIME_PORT = 4567;
/** `shardline operator`: /healthz, /readyz, /metrics. */
export const OPERATOR_HEALTH_PORT = 8081;
