/** A live MCP session's resources (server + transport), closed when the session ends. */
export interface SessionResource {
  close(): Promise<void>;
}

interface Entry<T> {
  value: T;
  clientId: string;
  /** Requests being served right now; a session with one in flight is never idle. */
  active: number;
  lastSeen: number;
}

/**
 * The sessions of one transport kind, keyed by session id, each bound to the client (API key) that opened
 * it: another client presenting the id is told it does not exist. Sessions with no request in flight for
 * longer than `idleMs` are closed by sweep(). Pure: time is passed in.
 */
export class McpSessions<T extends SessionResource> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly idleMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  add(id: string, clientId: string, value: T): void {
    this.entries.set(id, { value, clientId, active: 0, lastSeen: this.now() });
  }

  /** The session, if it exists and belongs to this client. */
  get(id: string, clientId: string): T | undefined {
    const entry = this.entries.get(id);
    return entry && entry.clientId === clientId ? entry.value : undefined;
  }

  /** Forgets a session (its transport closed); safe to repeat. Returns what was stored, if anything. */
  remove(id: string): T | undefined {
    const entry = this.entries.get(id);
    this.entries.delete(id);
    return entry?.value;
  }

  /** Marks a request on the session as started; the returned function marks it finished (once). */
  begin(id: string): () => void {
    const entry = this.entries.get(id);
    if (!entry) return () => undefined;
    entry.active++;
    entry.lastSeen = this.now();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      entry.active--;
      entry.lastSeen = this.now();
    };
  }

  /** Ids of sessions with nothing in flight and no request for longer than idleMs. */
  idleIds(): string[] {
    const cutoff = this.now() - this.idleMs;
    return [...this.entries].filter(([, e]) => e.active === 0 && e.lastSeen <= cutoff).map(([id]) => id);
  }

  /** Closes and forgets idle sessions; returns how many. Close failures are reported, not thrown. */
  async sweep(onError: (id: string, err: unknown) => void = () => undefined): Promise<number> {
    const ids = this.idleIds();
    await Promise.all(ids.map((id) => this.closeOne(id, onError)));
    return ids.length;
  }

  /** Closes every session (shutdown). */
  async closeAll(onError: (id: string, err: unknown) => void = () => undefined): Promise<void> {
    await Promise.all([...this.entries.keys()].map((id) => this.closeOne(id, onError)));
  }

  private async closeOne(id: string, onError: (id: string, err: unknown) => void): Promise<void> {
    const value = this.remove(id);
    if (!value) return;
    try {
      await value.close();
    } catch (err) {
      onError(id, err);
    }
  }
}
