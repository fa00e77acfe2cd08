import { captureJsonLines } from '../../../test/support/log-lines';
import { createAppLogger, NestPinoLogger } from './app-logger';
import { bindTraceFields, runWithTraceFields } from './trace-context';

function capture(level = 'debug') {
  const { sink, lines } = captureJsonLines();
  const logger = new NestPinoLogger(createAppLogger({ level, mode: 'api' }, sink));
  return { logger, lines };
}

describe('NestPinoLogger', () => {
  it('writes the message with the context Nest appends as the last argument', () => {
    const { logger, lines } = capture();
    logger.log('task t1 admitted', 'ScanPipeline');
    logger.warn('no context');
    expect(lines).toEqual([
      expect.objectContaining({ level: 30, mode: 'api', context: 'ScanPipeline', msg: 'task t1 admitted' }),
      expect.objectContaining({ level: 40, msg: 'no context' }),
    ]);
    expect(lines[1]).not.toHaveProperty('context');
  });

  it('merges an object first argument into the line and takes the next string as the message', () => {
    const { logger, lines } = capture();
    logger.log({ req: { method: 'GET' } }, 'request refused', 'HttpError');
    logger.error(new Error('boom'), 'Worker');
    expect(lines[0]).toMatchObject({ req: { method: 'GET' }, msg: 'request refused', context: 'HttpError' });
    expect(lines[1]).toMatchObject({ level: 50, msg: 'boom', context: 'Worker', err: { message: 'boom' } });
  });

  it("keeps the stack of Nest's error(message, stack, context) calls", () => {
    const { logger, lines } = capture();
    const stack = new Error('startup failed').stack!;
    logger.error('startup failed', stack, 'ExceptionHandler');
    expect(lines[0]).toMatchObject({ msg: 'startup failed', context: 'ExceptionHandler' });
    expect((lines[0].err as { stack: string }).stack).toBe(stack);
  });

  it('redacts credentials and drops lines below the level', () => {
    const { logger, lines } = capture('info');
    logger.debug('not written', 'X');
    logger.log({ scanner: { secret_key: 'SK-9', url: 'https://nessus:8834' } }, 'reloaded', 'Registry');
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines[0])).not.toContain('SK-9');
    expect(lines[0]).toMatchObject({ scanner: { url: 'https://nessus:8834' } });
  });

  it('adds the trace fields of the running context, and only inside it', async () => {
    const { logger, lines } = capture();
    await runWithTraceFields({ trace_id: 'tr-1' }, async () => {
      await new Promise((r) => setImmediate(r));
      bindTraceFields({ task_id: 'task-1' });
      logger.log('inside', 'S');
    });
    logger.log('outside', 'S');
    expect(lines[0]).toMatchObject({ trace_id: 'tr-1', task_id: 'task-1', msg: 'inside' });
    expect(lines[1]).not.toHaveProperty('trace_id');
  });
});
