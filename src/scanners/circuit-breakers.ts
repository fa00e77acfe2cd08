import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import {
  circuitBreaker,
  CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  handleWhen,
} from 'cockatiel';

export { BrokenCircuitError } from 'cockatiel';

export interface CircuitBreakerOptions {
  /** Consecutive transient failures that open a scanner's circuit (default 5). */
  consecutiveFailures?: number;
  /** How long an open circuit waits before one probe call may try the scanner again (default 30 s). */
  halfOpenAfterMs?: number;
}

/** Optional provider of CircuitBreakerOptions (tests shorten the timings). */
export const CIRCUIT_BREAKER_OPTIONS = Symbol('CIRCUIT_BREAKER_OPTIONS');

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Only transient failures (network, timeouts, 5xx: NessusError.transient) count against a scanner. */
export function isTransient(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { transient?: unknown }).transient === true;
}

interface Breaker {
  policy: CircuitBreakerPolicy;
  openedAt: number;
}

/**
 * One cockatiel circuit breaker per scanner instance. Repeated transient failures open it; an open
 * scanner is skipped by selection until `halfOpenAfterMs` has passed, then one call probes it and its
 * success closes the circuit again.
 *
 * The state is per process: each worker learns a scanner's health from its own calls (ScannerHealth
 * shares what they found with processes that make no Nessus calls).
 */
@Injectable()
export class CircuitBreakers {
  private readonly log = new Logger(CircuitBreakers.name);
  private readonly breakers = new Map<string, Breaker>();
  private readonly consecutiveFailures: number;
  readonly halfOpenAfterMs: number;
  private readonly listeners: ((instanceId: string, open: boolean) => void)[] = [];

  constructor(@Optional() @Inject(CIRCUIT_BREAKER_OPTIONS) options: CircuitBreakerOptions | null = null) {
    this.consecutiveFailures = options?.consecutiveFailures ?? 5;
    this.halfOpenAfterMs = options?.halfOpenAfterMs ?? 30_000;
  }

  private breaker(instanceId: string): Breaker {
    let b = this.breakers.get(instanceId);
    if (!b) {
      const policy = circuitBreaker(handleWhen(isTransient), {
        halfOpenAfter: this.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.consecutiveFailures),
      });
      const entry: Breaker = { policy, openedAt: 0 };
      policy.onBreak(() => {
        entry.openedAt = Date.now();
        this.log.warn(`scanner ${instanceId}: circuit open after repeated transient failures`);
        for (const listener of this.listeners) listener(instanceId, true);
      });
      policy.onReset(() => {
        this.log.log(`scanner ${instanceId}: circuit closed`);
        for (const listener of this.listeners) listener(instanceId, false);
      });
      this.breakers.set(instanceId, entry);
      b = entry;
    }
    return b;
  }

  /**
   * Runs a call to the scanner through its breaker. Throws BrokenCircuitError without calling while
   * the circuit is open (or while another call is already probing it).
   */
  execute<T>(instanceId: string, fn: () => PromiseLike<T> | T): Promise<T> {
    return this.breaker(instanceId).policy.execute(() => fn());
  }

  state(instanceId: string): BreakerState {
    const s = this.breakers.get(instanceId)?.policy.state ?? CircuitState.Closed;
    if (s === CircuitState.Closed) return 'closed';
    return s === CircuitState.HalfOpen ? 'half_open' : 'open';
  }

  /** False while the scanner's circuit is open in this process. */
  isHealthy(instanceId: string): boolean {
    return this.state(instanceId) !== 'open';
  }

  /** The scanners whose circuit is open in this process. */
  openInstances(): string[] {
    return [...this.breakers.keys()].filter((id) => !this.isHealthy(id));
  }

  /** Calls `listener` for each circuit that opens (true) or closes again (false). */
  onChange(listener: (instanceId: string, open: boolean) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Whether selection may give the scanner a task: healthy, or open long enough that the next call is
   * the probe (without this an open scanner would never be called again, so never close).
   */
  isSelectable(instanceId: string): boolean {
    const b = this.breakers.get(instanceId);
    if (!b || b.policy.state !== CircuitState.Open) return true;
    return Date.now() - b.openedAt >= this.halfOpenAfterMs;
  }
}
