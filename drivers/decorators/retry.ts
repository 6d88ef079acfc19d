/**
 * Bounded retries with capped exponential backoff and full jitter, for
 * Transient errors only. Every other kind is final and passes through at once.
 * A put whose body is a stream is not retried: the stream was consumed.
 */
import type { Backend, Body, PutOptions, WriteResult } from '../contract.js';
import { isStorageError } from '../errors.js';
import { ForwardingBackend, type Operation } from './forwarding.js';

export interface RetryPolicy {
  /** Total attempts including the first. Default 4. */
  attempts: number;
  /** First backoff in ms. Default 100. */
  baseDelayMs: number;
  /** Largest single backoff in ms. Default 2000. */
  maxDelayMs: number;
  /** Called before each retry (for logs and metrics). */
  onRetry?: (op: Operation, attempt: number, error: Error, delayMs: number) => void;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 2000 };

export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Runs `call` up to `policy.attempts` times while it fails with a Transient error. */
export async function withRetries<T>(op: Operation, policy: RetryPolicy, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (!isStorageError(e, 'Transient') || attempt >= policy.attempts) throw e;
      const delay = backoffDelay(policy, attempt);
      policy.onRetry?.(op, attempt, e, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

const NOT_RETRIED: ReadonlySet<Operation> = new Set<Operation>(['watch']);

export class RetryingBackend extends ForwardingBackend {
  readonly policy: RetryPolicy;

  constructor(inner: Backend, policy: Partial<RetryPolicy> = {}) {
    super(inner);
    this.policy = { ...DEFAULT_RETRY_POLICY, ...policy };
  }

  protected override around<T>(op: Operation, call: () => Promise<T>): Promise<T> {
    if (NOT_RETRIED.has(op)) return call();
    return withRetries(op, this.policy, call);
  }

  override put(bucket: string, key: string, body: Body, options?: PutOptions): Promise<WriteResult> {
    if (!Buffer.isBuffer(body)) return this.inner.put(bucket, key, body, options);
    return super.put(bucket, key, body, options);
  }
}
