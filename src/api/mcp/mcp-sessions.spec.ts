import { McpSessions } from './mcp-sessions';

class FakeSession {
  closed = 0;
  async close() {
    this.closed++;
  }
}

describe('McpSessions', () => {
  let now = 0;
  const clock = () => now;

  beforeEach(() => {
    now = 1_000_000;
  });

  it('hands a session only to the client that opened it', () => {
    const sessions = new McpSessions<FakeSession>(10_000, clock);
    const s = new FakeSession();
    sessions.add('abc', 'alice', s);
    expect(sessions.get('abc', 'alice')).toBe(s);
    expect(sessions.get('abc', 'bob')).toBeUndefined();
    expect(sessions.get('nope', 'alice')).toBeUndefined();
  });

  it('closes sessions idle past the limit, and only those', async () => {
    const sessions = new McpSessions<FakeSession>(10_000, clock);
    const idle = new FakeSession();
    const recent = new FakeSession();
    sessions.add('idle', 'a', idle);
    now += 6_000;
    sessions.add('recent', 'a', recent);
    now += 5_000;
    expect(await sessions.sweep()).toBe(1);
    expect(idle.closed).toBe(1);
    expect(recent.closed).toBe(0);
    expect(sessions.get('idle', 'a')).toBeUndefined();
    expect(sessions.get('recent', 'a')).toBe(recent);
  });

  it('never closes a session while a request on it is in flight, and restarts the idle clock after it', async () => {
    const sessions = new McpSessions<FakeSession>(10_000, clock);
    const s = new FakeSession();
    sessions.add('s', 'a', s);
    const done = sessions.begin('s');
    now += 60_000;
    expect(await sessions.sweep()).toBe(0);
    done();
    done(); // a second call changes nothing
    now += 9_000;
    expect(await sessions.sweep()).toBe(0);
    now += 2_000;
    expect(await sessions.sweep()).toBe(1);
    expect(s.closed).toBe(1);
  });

  it('closes everything on closeAll and reports close failures without throwing', async () => {
    const ok = new FakeSession();
    const broken = { close: () => Promise.reject(new Error('boom')) };
    const all = new McpSessions<FakeSession | typeof broken>(10_000, clock);
    all.add('ok', 'a', ok);
    all.add('broken', 'a', broken);
    const failures: string[] = [];
    await all.closeAll((id) => failures.push(id));
    expect(ok.closed).toBe(1);
    expect(failures).toEqual(['broken']);
    expect(all.size).toBe(0);
  });
});
