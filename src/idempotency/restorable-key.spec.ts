import { Task } from '../tasks/task';
import { applyUpdate, newTask } from '../tasks/task-state-machine';
import { restorableKey } from './restorable-key';

const TTL = 3600;
const created = new Date('2026-12-02T10:00:00.000Z');
const keyed = (fields: Partial<Task> = {}): Task => ({
  ...newTask(
    {
      task_id: 'ne_scan_20261202_100000_a1b2c3d4',
      name: 'n',
      targets: ['192.0.2.1'],
      scan_type: 'untrusted',
      scanner_pool: 'nessus',
      trace_id: 't',
      client_id: 'c',
      idempotency_key_hash: 'k'.repeat(64),
      idempotency_fingerprint: 'f'.repeat(64),
    },
    created,
  ),
  ...fields,
});
const at = (minutes: number) => created.getTime() + minutes * 60_000;

describe('restorableKey', () => {
  it('gives an unfinished task its key for a whole TTL, however old the task', () => {
    expect(restorableKey(keyed(), TTL, at(600))).toEqual({
      keyHash: 'k'.repeat(64),
      taskId: 'ne_scan_20261202_100000_a1b2c3d4',
      fingerprint: 'f'.repeat(64),
      ttlSeconds: TTL,
    });
  });

  it('gives a finished task what is left of the TTL its end started, and nothing once it has passed', () => {
    const ended = applyUpdate(keyed(), { status: 'cancelled' }, new Date(at(10)));
    expect(restorableKey(ended, TTL, at(40))?.ttlSeconds).toBe(TTL - 30 * 60);
    expect(restorableKey(ended, TTL, at(70))).toBeNull();
  });

  it('restores nothing for a task without a key, or stored before its fingerprint was kept', () => {
    expect(restorableKey(keyed({ idempotency_key_hash: null }), TTL, at(1))).toBeNull();
    const older = keyed();
    delete (older as Partial<Task>).idempotency_fingerprint;
    expect(restorableKey(older, TTL, at(1))).toBeNull();
  });
});
