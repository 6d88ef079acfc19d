/**
 * A fault-injecting decorator usable around any backend: per-operation (and
 * per-key) errors, added latency and hangs, deterministic under a seed. For
 * unit tests and failure scenarios, never instead of a real server.
 */
import type { Backend } from '../contract.js';
import { storageError, type ErrorKind } from '../errors.js';
import { ForwardingBackend, type Operation } from './forwarding.js';

export interface FaultRule {
  /** Operations the rule applies to; omitted: all. */
  op?: Operation | Operation[];
  /** Keys the rule applies to (matched against the key argument); omitted: all. */
  key?: string | RegExp;
  /** The error to throw: a kind (a StorageError of that kind is made) or a factory. */
  error?: ErrorKind | (() => Error);
  /** Delay before the call (or before the error) in ms. */
  latencyMs?: number;
  /** Never settle (until clear() is called): models a vanished server. */
  hang?: boolean;
  /** How many matching calls it fires for; omitted: every one. */
  times?: number;
  /** Chance 0..1 that a matching call fires; default 1. */
  probability?: number;
}

/** mulberry32: a small seeded PRNG so fault runs repeat exactly. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ActiveRule extends FaultRule {
  fired: number;
}

export class FaultBackend extends ForwardingBackend {
  private rules: ActiveRule[] = [];
  private readonly random: () => number;
  private releaseHangs: (() => void)[] = [];
  /** Calls that a rule fired on, by operation. */
  readonly injected = new Map<Operation, number>();

  constructor(inner: Backend, options: { seed?: number } = {}) {
    super(inner);
    this.random = seededRandom(options.seed ?? 1);
  }

  inject(rule: FaultRule): this {
    this.rules.push({ ...rule, fired: 0 });
    return this;
  }

  /** Removes every rule and lets hung calls fail with a Transient error. */
  clear(): void {
    this.rules = [];
    const hung = this.releaseHangs;
    this.releaseHangs = [];
    for (const release of hung) release();
  }

  private match(op: Operation, key: string | undefined): ActiveRule | undefined {
    for (const rule of this.rules) {
      if (rule.times !== undefined && rule.fired >= rule.times) continue;
      const ops = rule.op === undefined ? undefined : Array.isArray(rule.op) ? rule.op : [rule.op];
      if (ops && !ops.includes(op)) continue;
      if (rule.key !== undefined) {
        if (key === undefined) continue;
        if (typeof rule.key === 'string' ? rule.key !== key : !rule.key.test(key)) continue;
      }
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      return rule;
    }
    return undefined;
  }

  private currentKey: string | undefined;

  protected override async around<T>(op: Operation, call: () => Promise<T>): Promise<T> {
    const rule = this.match(op, this.currentKey);
    this.currentKey = undefined;
    if (!rule) return call();
    rule.fired++;
    this.injected.set(op, (this.injected.get(op) ?? 0) + 1);
    if (rule.latencyMs) await new Promise((resolve) => setTimeout(resolve, rule.latencyMs));
    if (rule.hang) {
      await new Promise<void>((resolve) => this.releaseHangs.push(resolve));
      throw storageError('Transient', `injected fault: ${op} hung until the fault was cleared`);
    }
    if (rule.error === undefined) return call();
    throw typeof rule.error === 'function'
      ? rule.error()
      : storageError(rule.error, `injected fault: ${op} failed with ${rule.error}`, { reason: 'InjectedFault' });
  }

  // Key-scoped operations record their key for rule matching before the hook runs.
  override head(...args: Parameters<Backend['head']>) {
    this.currentKey = args[1];
    return super.head(...args);
  }
  override get(...args: Parameters<Backend['get']>) {
    this.currentKey = args[1];
    return super.get(...args);
  }
  override put(...args: Parameters<Backend['put']>) {
    this.currentKey = args[1];
    return super.put(...args);
  }
  override delete(...args: Parameters<Backend['delete']>) {
    this.currentKey = args[1];
    return super.delete(...args);
  }
  override copy(...args: Parameters<Backend['copy']>) {
    this.currentKey = args[1].key;
    return super.copy(...args);
  }
  override uploadPart(...args: Parameters<Backend['uploadPart']>) {
    this.currentKey = args[1];
    return super.uploadPart(...args);
  }
  override completeMultipart(...args: Parameters<Backend['completeMultipart']>) {
    this.currentKey = args[1];
    return super.completeMultipart(...args);
  }
}
