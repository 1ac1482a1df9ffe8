/**
 * The identity service's own metrics (prom-client), in this process's registry. Under the gateway
 * each worker reports them (handler.ts `metrics()`) and the master adds them up across workers,
 * keeping those of workers that have gone, on the pool's OpenMetrics page.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();

export const httpRequests = new Counter({
  name: 'identity_http_requests',
  help: 'Requests answered, by method, route and status.',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

export const httpDuration = new Histogram({
  name: 'identity_http_request_duration_seconds',
  help: 'Time to answer a request, by method and route.',
  labelNames: ['method', 'route'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const tokenValidations = new Counter({
  name: 'identity_token_validations',
  help: 'Token validations, by where the answer came from (cache or validated).',
  labelNames: ['source'] as const,
  registers: [registry],
});

export const hashWait = new Histogram({
  name: 'identity_password_hash_wait_seconds',
  help: 'Time a password hash or verification waited for a hashing thread.',
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

/** Set by the hashing pool: its queue length now. */
let hashQueue = () => 0;
export function reportHashQueue(read: () => number): void {
  hashQueue = read;
}
export const hashQueueLength = new Gauge({
  name: 'identity_password_hash_queue_length',
  help: 'Password hashes and verifications waiting for a hashing thread.',
  registers: [registry],
  collect() {
    this.set(hashQueue());
  },
});
