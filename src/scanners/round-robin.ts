/** A scanner that may take a scan now, with its capacity. */
export interface Candidate {
  instanceId: string;
  max: number;
}

/**
 * Round-robin choice among candidates (in pool order), starting after the one chosen last and skipping
 * those at capacity. The reference model of the choose-and-lease Lua script in CapacityLeases, which
 * applies the same rule atomically in Redis; returns null when every candidate is full.
 */
export function pickRoundRobin(
  candidates: readonly Candidate[],
  active: (instanceId: string) => number,
  lastChosen: string | null,
): string | null {
  const n = candidates.length;
  if (n === 0) return null;
  const last = lastChosen === null ? -1 : candidates.findIndex((c) => c.instanceId === lastChosen);
  const start = last < 0 ? 0 : (last + 1) % n;
  for (let k = 0; k < n; k++) {
    const c = candidates[(start + k) % n];
    if (active(c.instanceId) < c.max) return c.instanceId;
  }
  return null;
}
