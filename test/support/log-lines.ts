import { Writable } from 'node:stream';

/** A stream to hand a pino logger in a test, and the JSON lines written to it, parsed. */
export function captureJsonLines(): { sink: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { sink, lines };
}
