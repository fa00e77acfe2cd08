/**
 * The newest `limit` members of the union of several sorted sets, read from the head of each set instead
 * of materialising the union. Order is the one ZREVRANGE gives a union: score descending, then member
 * descending; a member held by several sets has the same score in each (its task's creation time).
 */

export interface ScoredMember {
  id: string;
  score: number;
  /** Read from a set but filtered out of the union (it still marks how far that set was read). */
  excluded?: boolean;
}

/** The next `count` members of set `index` from `start`, newest first. */
export interface HeadRequest {
  index: number;
  start: number;
  count: number;
}

/** Answers a batch of head requests (a round trip or two), in request order. */
export type FetchHeads = (requests: HeadRequest[]) => Promise<ScoredMember[][]>;

/** Before a in the newest-first order: negative when a comes first. */
export function newestFirst(a: ScoredMember, b: ScoredMember): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

const FIRST_CHUNK_MIN = 2;

/**
 * Reads a few members of every set, then more only from the sets whose last member read is still newer
 * than the page's current cut-off (only they can hold a member of the page), doubling the chunk each round.
 */
export async function newestAcross(sets: number, limit: number, fetch: FetchHeads): Promise<string[]> {
  if (limit <= 0 || sets === 0) return [];
  const seen = new Map<string, number>();
  const read = new Array<number>(sets).fill(0);
  const last: Array<ScoredMember | undefined> = new Array(sets);
  const exhausted = new Array<boolean>(sets).fill(false);
  // Enough for the page if the newest members are spread evenly; a set that holds more of them is read again.
  let chunk = Math.max(FIRST_CHUNK_MIN, Math.ceil((2 * limit) / sets));
  let pending = Array.from({ length: sets }, (_, i) => i);
  let page: ScoredMember[] = [];
  while (pending.length > 0) {
    const requests = pending.map((index) => ({ index, start: read[index], count: chunk }));
    const answers = await fetch(requests);
    requests.forEach(({ index, count }, k) => {
      const members = answers[k];
      for (const m of members) if (!m.excluded) seen.set(m.id, m.score);
      read[index] += members.length;
      if (members.length > 0) last[index] = members[members.length - 1];
      exhausted[index] = members.length < count;
    });
    page = [...seen].map(([id, score]) => ({ id, score })).sort(newestFirst);
    if (page.length > limit) page.length = limit;
    const cutoff = page.length === limit ? page[limit - 1] : undefined;
    pending = pending.filter(
      (i) => !exhausted[i] && (cutoff === undefined || newestFirst(last[i]!, cutoff) < 0),
    );
    chunk *= 2;
  }
  return page.map((m) => m.id);
}
