import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import type { ChainableCommander, Redis } from 'ioredis';
import { UnavailableError } from '../common/errors';
import { isRedisUnavailable } from '../common/redis/redis-failure';
import { withRedisLock } from '../common/redis/redis-lock';
import { RedisService } from '../common/redis/redis.service';
import { Task, TaskStatus } from './task';
import { TaskStore } from './task.store';
import { newestAcross, ScoredMember } from './newest-merge';
import { planTargetQuery, targetTerms } from './target-terms';

/** A list_tasks query against the index. */
export interface TaskListQuery {
  limit: number;
  status?: TaskStatus;
  pool?: string;
  /** CIDR-aware: an address, CIDR or range matches overlapping targets; a host name matches its subdomains. */
  target?: string;
  /** Only this client's tasks. */
  clientId?: string;
}

/** Newest first; `total` is the exact number of tasks matching every filter, of which `taskIds` is the head. */
export interface TaskListPage {
  taskIds: string[];
  total: number;
}

/** Bumped when the index layout changes: an index built in an older layout is rebuilt from the files. */
const FORMAT = 3;
const REBUILD_LOCK_MS = 60_000;
const REBUILD_WAIT_MS = 10 * 60_000;
/** Term keys per ZUNIONSTORE; a wider target query (e.g. 10.0.0.0/8) is unioned in steps. */
const UNION_CHUNK = 1000;
const TEMP_TTL_MS = 60_000;
/**
 * A target query over several term sets reads their heads instead of building their union, unless the
 * tasks with several address blocks are more than one in this many of the sets' members: correcting the
 * total costs more per such task (a summary read in Lua) than the union costs per member.
 */
const MULTI_BLOCK_SHARE = 8;

/*
 * Upsert: replaces a task's memberships atomically; an older version never overwrites a newer one, so
 * concurrent writers (or a rebuild racing live updates) leave the newest state in the index.
 * KEYS none (all under the prefix in ARGV[1]); ARGV: prefix, id, version, score, summary JSON.
 */
const UPSERT_LUA = `
local p, id, ver, score = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
-- n:/b: terms keep their block id in lex:<kind>:<family>:<prefix> while any task holds them.
local function lexKey(t)
  local kind = string.sub(t, 1, 1)
  if kind ~= 'n' and kind ~= 'b' then return nil end
  local family, prefix = string.match(t, '^%a:(%d):%x+:(%d+)$')
  return p .. 'lex:' .. kind .. ':' .. family .. ':' .. prefix
end
local function unindex(o)
  redis.call('ZREM', p .. 'status:' .. tostring(o.s), id)
  redis.call('ZREM', p .. 'pool:' .. tostring(o.p), id)
  redis.call('ZREM', p .. 'client:' .. tostring(o.u), id)
  redis.call('ZREM', p .. 'sp:' .. tostring(o.s) .. ':' .. tostring(o.p), id)
  redis.call('ZREM', p .. 'sc:' .. tostring(o.s) .. ':' .. tostring(o.u), id)
  redis.call('ZREM', p .. 'multi', id)
  for _, t in ipairs(o.x or {}) do
    redis.call('ZREM', p .. 't:' .. t, id)
    redis.call('ZREM', p .. 'ts:' .. tostring(o.s) .. ':' .. t, id)
    local lex = lexKey(t)
    if lex and redis.call('EXISTS', p .. 't:' .. t) == 0 then redis.call('ZREM', lex, string.sub(t, 3)) end
  end
end
local n = ARGV[5] ~= '' and cjson.decode(ARGV[5]) or nil
local old = redis.call('HGET', p .. 'sum', id)
if old then
  local o = cjson.decode(old)
  if ver ~= nil and tonumber(o.v) > ver then return 0 end
  -- Most steps change no indexed field (phase, progress): then only the version moves. A summary of an
  -- older layout (f) is indexed again in full.
  if n and o.f == n.f and o.s == n.s and o.p == n.p and o.u == n.u and o.c == n.c and cjson.encode(o.x) == cjson.encode(n.x) then
    redis.call('HSET', p .. 'sum', id, ARGV[5])
    return 1
  end
  unindex(o)
end
if not n then
  redis.call('HDEL', p .. 'sum', id)
  redis.call('ZREM', p .. 'all', id)
  return 1
end
redis.call('HSET', p .. 'sum', id, ARGV[5])
redis.call('ZADD', p .. 'all', score, id)
redis.call('ZADD', p .. 'status:' .. n.s, score, id)
redis.call('ZADD', p .. 'pool:' .. n.p, score, id)
redis.call('ZADD', p .. 'client:' .. n.u, score, id)
redis.call('ZADD', p .. 'sp:' .. n.s .. ':' .. n.p, score, id)
redis.call('ZADD', p .. 'sc:' .. n.s .. ':' .. n.u, score, id)
-- A task with several address blocks is the only kind one query's terms can hold more than once.
local blocks = 0
for _, t in ipairs(n.x) do
  if string.sub(t, 1, 2) == 'n:' then blocks = blocks + 1 end
end
if blocks > 1 then redis.call('ZADD', p .. 'multi', score, id) end
for _, t in ipairs(n.x) do
  redis.call('ZADD', p .. 't:' .. t, score, id)
  redis.call('ZADD', p .. 'ts:' .. n.s .. ':' .. t, score, id)
  local lex = lexKey(t)
  if lex then redis.call('ZADD', lex, 0, string.sub(t, 3)) end
end
return 1
`;

/*
 * The number of tasks in the union of the term sets (of one status when ARGV[2] names it) that every
 * filter set holds, without building the union: each set's size (or intersection size with the
 * filters), less the extra memberships of the tasks with several address blocks (the only tasks one
 * query's terms can hold more than once). ARGV: prefix, status or '', filter count, filter keys, terms.
 */
const UNION_SIZE_LUA = `
local p, status, nf = ARGV[1], ARGV[2], tonumber(ARGV[3])
local filters = {}
for i = 1, nf do filters[i] = ARGV[3 + i] end
local total, wanted = 0, {}
for i = 4 + nf, #ARGV do
  local key = status == '' and p .. 't:' .. ARGV[i] or p .. 'ts:' .. status .. ':' .. ARGV[i]
  wanted[ARGV[i]] = true
  if nf == 0 then
    total = total + redis.call('ZCARD', key)
  else
    total = total + redis.call('ZINTERCARD', 1 + nf, key, unpack(filters))
  end
end
for _, id in ipairs(redis.call('ZRANGE', p .. 'multi', 0, -1)) do
  local kept = true
  for _, f in ipairs(filters) do
    if kept and not redis.call('ZSCORE', f, id) then kept = false end
  end
  local s = kept and redis.call('HGET', p .. 'sum', id)
  if s then
    local o = cjson.decode(s)
    local held = 0
    if status == '' or o.s == status then
      for _, t in ipairs(o.x) do
        if wanted[t] then held = held + 1 end
      end
    end
    if held > 1 then total = total - held + 1 end
  end
end
return total
`;

interface IndexCommands {
  nmgIndexUpsert(...args: string[]): Promise<number>;
  nmgIndexUnionSize(...args: string[]): Promise<number>;
}
type IndexPipeline = ChainableCommander & { nmgIndexUpsert(...args: string[]): ChainableCommander };

interface MatchingTerms {
  terms: string[];
  /** The terms' set sizes added up: the union's size were no task in two of them. */
  members: number;
}

interface Summary {
  v: number;
  s: TaskStatus;
  p: string;
  u: string;
  c: number;
  x: string[];
  /** The layout it was indexed in: an older one is indexed again in full. */
  f: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The Redis listing index over the task files: sorted sets by creation time (all, per status, per pool,
 * per client, per target term) and a summary hash. Listing never reads task files or scans tasks; the
 * index is derived data, rebuilt from the TaskStore when its marker is missing (Redis flushed or new).
 */
@Injectable()
export class TaskIndex {
  private readonly log = new Logger(TaskIndex.name);
  private building: Promise<void> | null = null;

  private readonly commands: IndexCommands;

  constructor(private readonly redis: RedisService) {
    // EVALSHA instead of sending the 3 KB script with every task write; reloaded after a Redis restart.
    redis.client.defineCommand('nmgIndexUpsert', { numberOfKeys: 0, lua: UPSERT_LUA });
    redis.client.defineCommand('nmgIndexUnionSize', { numberOfKeys: 0, lua: UNION_SIZE_LUA });
    this.commands = redis.client as Redis & IndexCommands;
  }

  private get p(): string {
    return this.redis.key('tasks', 'idx', '');
  }

  private key(...parts: string[]): string {
    return this.p + parts.join(':');
  }

  /** The tasks a target term holds, or those of them in a status. */
  private termSet(term: string, status?: TaskStatus): string {
    return status ? this.key('ts', status, term) : this.key('t', term);
  }

  private summaryOf(task: Task): string {
    const summary: Summary = {
      v: task.version,
      s: task.status,
      p: task.scanner_pool,
      u: task.client_id,
      c: Date.parse(task.created_at) || 0,
      x: targetTerms([...task.targets, ...(task.resolved_targets ?? [])]),
      f: FORMAT,
    };
    return JSON.stringify(summary);
  }

  /** Indexes the task as it is now; ignored when the index already holds a newer version. */
  async upsert(task: Task): Promise<void> {
    await this.run(() => this.commands.nmgIndexUpsert(...this.upsertArgs(task)));
  }

  private upsertArgs(task: Task): string[] {
    const score = String(Date.parse(task.created_at) || 0);
    return [this.p, task.task_id, String(task.version), score, this.summaryOf(task)];
  }

  /** Drops a task from the index (after its directory is deleted). */
  async remove(taskId: string): Promise<void> {
    await this.run(() => this.commands.nmgIndexUpsert(this.p, taskId, '', '0', ''));
  }

  /** Task ids newest first and the exact number of matches; see TaskListQuery for the filters. */
  async list(query: TaskListQuery): Promise<TaskListPage> {
    const limit = Math.max(0, Math.floor(query.limit));
    return this.run(async () => {
      const client = this.redis.client;
      const filters: string[] = [];
      const { status, pool, clientId } = query;
      // Status combined with pool or client has its own set, so the common filters need no intersection.
      if (status && pool !== undefined) filters.push(this.key('sp', status, pool));
      if (status && clientId !== undefined) filters.push(this.key('sc', status, clientId));
      if (!status && pool !== undefined) filters.push(this.key('pool', pool));
      if (!status && clientId !== undefined) filters.push(this.key('client', clientId));

      let target: MatchingTerms | null = null;
      if (query.target !== undefined && query.target.trim() !== '') {
        target = await this.matchingTerms(query.target);
        if (target.terms.length === 0) return { taskIds: [], total: 0 };
      }

      // The universe: every task, or every task in the status. A filter set as large as it (one client,
      // one pool) filters nothing; dropping it keeps intersections rare and small.
      const universe = status ? this.key('status', status) : this.key('all');
      const counted = [universe, ...filters, this.key('multi')];
      const cards = (await client.pipeline(counted.map((k) => ['zcard', k])).exec()) as Array<
        [Error | null, number]
      >;
      if (cards[0][1] === 0) return { taskIds: [], total: 0 };
      const sets: string[] = [];
      for (let i = 0; i < filters.length; i++) {
        const card = cards[i + 1][1];
        if (card === 0) return { taskIds: [], total: 0 };
        if (card < cards[0][1]) sets.push(filters[i]);
      }
      const multiBlock = cards[filters.length + 1][1];
      if (target && target.terms.length > 1 && multiBlock * MULTI_BLOCK_SHARE <= target.members) {
        return this.readUnion(target.terms, status, sets, limit);
      }
      // With a status, the term sets of that status: the status needs no intersection.
      const termKeys = target?.terms.map((t) => this.termSet(t, status));

      const tmp = this.key('tmp', randomBytes(8).toString('hex'));
      const temps: string[] = [];
      if (termKeys?.length === 1) {
        sets.unshift(termKeys[0]);
      } else if (termKeys) {
        const union = `${tmp}:u`;
        temps.push(union);
        sets.unshift(union);
        await this.unionInto(union, termKeys);
      }
      const tx = client.multi();
      let source = sets.length === 1 ? sets[0] : universe;
      if (sets.length > 1) {
        source = `${tmp}:i`;
        temps.push(source);
        tx.zinterstore(source, sets.length, ...sets, 'AGGREGATE', 'MAX');
      }
      const at = sets.length > 1 ? 1 : 0;
      tx.zrevrange(source, 0, limit - 1);
      tx.zcard(source);
      // UNLINK: Redis frees a union of many thousand members in the background, not while we wait.
      if (temps.length) tx.unlink(...temps);
      const res = (await tx.exec()) as Array<[Error | null, unknown]>;
      const failed = res.find(([err]) => err);
      if (failed) throw failed[0];
      const ids = res[at][1] as string[];
      const total = res[at + 1][1] as number;
      return { taskIds: limit === 0 ? [] : ids, total };
    });
  }

  /** The non-empty terms whose union is every task overlapping the target query. */
  private async matchingTerms(target: string): Promise<MatchingTerms> {
    const plan = planTargetQuery(target);
    const terms = new Set(plan.terms);
    if (plan.lexRanges.length) {
      const pipe = this.redis.client.pipeline();
      for (const r of plan.lexRanges)
        pipe.zrangebylex(this.key('lex', r.kind, String(r.family), String(r.prefix)), r.min, r.max);
      const found = (await pipe.exec()) ?? [];
      found.forEach(([err, ids], i) => {
        if (err) throw err;
        for (const id of ids as string[]) terms.add(`${plan.lexRanges[i].kind}:${id}`);
      });
    }
    // Most terms of a wide query hold no task; one that is left alone (a /8 bucket) needs no union at all.
    const candidates = [...terms];
    const cards =
      (await this.redis.client.pipeline(candidates.map((t) => ['zcard', this.key('t', t)])).exec()) ?? [];
    const failed = cards.find(([err]) => err);
    if (failed) throw failed[0];
    const found: MatchingTerms = { terms: [], members: 0 };
    candidates.forEach((term, i) => {
      const card = cards[i][1] as number;
      if (card > 0) found.terms.push(term);
      found.members += card;
    });
    return found;
  }

  /**
   * The page and total of several term sets' union (in a status, within the filter sets) without building
   * it: the total counted in Redis, the page merged from the sets' heads (read just after, so a task
   * written in between may show in one only).
   */
  private async readUnion(
    terms: string[],
    status: TaskStatus | undefined,
    filters: string[],
    limit: number,
  ): Promise<TaskListPage> {
    const client = this.redis.client;
    const counted = [this.p, status ?? '', String(filters.length), ...filters, ...terms];
    const total = await this.commands.nmgIndexUnionSize(...counted);
    const keys = terms.map((t) => this.termSet(t, status));
    const taskIds = await newestAcross(keys.length, limit, async (requests) => {
      const pipe = client.pipeline();
      for (const r of requests) pipe.zrevrange(keys[r.index], r.start, r.start + r.count - 1, 'WITHSCORES');
      const heads = ((await pipe.exec()) ?? []).map(([err, flat]) => {
        if (err) throw err;
        return scoredMembers(flat as string[]);
      });
      const read = heads.flat();
      if (filters.length === 0 || read.length === 0) return heads;
      const scores =
        (await client.pipeline(filters.map((f) => ['zmscore', f, ...read.map((m) => m.id)])).exec()) ?? [];
      scores.forEach(([err, inFilter]) => {
        if (err) throw err;
        (inFilter as Array<string | null>).forEach((score, i) => {
          if (score === null) read[i].excluded = true;
        });
      });
      return heads;
    });
    return { taskIds, total };
  }

  /** ZUNIONSTORE of many keys: in chunks into partial sets, then once over the partials. */
  private async unionInto(dest: string, keys: string[]): Promise<void> {
    const client = this.redis.client;
    if (keys.length <= UNION_CHUNK) {
      await client
        .multi()
        .zunionstore(dest, keys.length, ...keys, 'AGGREGATE', 'MAX')
        .pexpire(dest, TEMP_TTL_MS)
        .exec();
      return;
    }
    const partials: string[] = [];
    const pipe = client.pipeline();
    for (let i = 0; i < keys.length; i += UNION_CHUNK) {
      const part = `${dest}:${partials.length}`;
      const chunk = keys.slice(i, i + UNION_CHUNK);
      partials.push(part);
      // The TTL removes partial sets even if this process dies before deleting them.
      pipe.zunionstore(part, chunk.length, ...chunk, 'AGGREGATE', 'MAX').pexpire(part, TEMP_TTL_MS);
    }
    await pipe.exec();
    await client
      .multi()
      .zunionstore(dest, partials.length, ...partials, 'AGGREGATE', 'MAX')
      .pexpire(dest, TEMP_TTL_MS)
      .unlink(...partials)
      .exec();
  }

  /** True once the index was (re)built from the files since Redis last lost it. */
  async isBuilt(): Promise<boolean> {
    return this.run(async () => (await this.redis.client.exists(this.key('built', `v${FORMAT}`))) === 1);
  }

  /**
   * Rebuilds the index from the task files when its marker is missing. One process rebuilds (a Redis
   * lock); others wait for the marker. A duplicate rebuild would be harmless anyway: upserts keep the
   * newest version.
   */
  async ensureBuilt(store: TaskStore): Promise<void> {
    if (await this.isBuilt()) return;
    this.building ??= this.buildOnce(store).finally(() => (this.building = null));
    return this.building;
  }

  private async buildOnce(store: TaskStore): Promise<void> {
    const deadline = Date.now() + REBUILD_WAIT_MS;
    while (!(await this.isBuilt())) {
      if (Date.now() > deadline)
        throw new UnavailableError('the task index is still being rebuilt; retry shortly');
      const built = await withRedisLock(
        this.redis.client,
        this.key('rebuilding'),
        REBUILD_LOCK_MS,
        async () => {
          const count = await this.rebuild(store);
          // v1's single lexicographic set of blocks; v2 keeps one per kind, family and prefix length.
          await this.redis.client.del(this.key('tlex'), this.key('built'));
          await this.redis.client.set(this.key('built', `v${FORMAT}`), new Date().toISOString());
          this.log.log(`task index rebuilt from ${count} task file(s)`);
        },
      );
      if (!built.acquired) await sleep(200);
    }
  }

  private async rebuild(store: TaskStore): Promise<number> {
    let count = 0;
    const skipped = (id: string, err: Error) =>
      this.log.warn(`skipping task ${id} in the index rebuild: ${err.message}`);
    for await (const tasks of store.batches(skipped)) {
      const pipe = this.redis.client.pipeline() as IndexPipeline;
      for (const task of tasks) pipe.nmgIndexUpsert(...this.upsertArgs(task));
      const failed = ((await pipe.exec()) ?? []).find(([err]) => err);
      if (failed) throw failed[0];
      count += tasks.length;
    }
    return count;
  }

  /** Redis errors become UnavailableError (503 with Retry-After); domain errors pass through. */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isRedisUnavailable(err)) {
        throw new UnavailableError(`the task index is unavailable (${(err as Error).message})`);
      }
      throw err;
    }
  }
}

/** [member, score, member, score, ...] as WITHSCORES answers. */
function scoredMembers(flat: string[]): ScoredMember[] {
  const members: ScoredMember[] = [];
  for (let i = 0; i < flat.length; i += 2) members.push({ id: flat[i], score: Number(flat[i + 1]) });
  return members;
}
