import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { answerClientErrorsWithJson } from './client-error';

function rawRequest(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(payload));
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

describe('answerClientErrorsWithJson', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createServer((_req, res) => res.end('ok'));
    answerClientErrorsWithJson(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const bodyOf = (raw: string) =>
    JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;

  it('answers headers over the limit with 431 and the JSON error body', async () => {
    const raw = await rawRequest(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(raw.startsWith('HTTP/1.1 431 ')).toBe(true);
    expect(bodyOf(raw)).toMatchObject({
      statusCode: 431,
      error: 'Request Header Fields Too Large',
      trace_id: expect.any(String),
    });
  });

  it('answers a malformed request line with 400 and the JSON error body', async () => {
    const raw = await rawRequest(port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(raw.startsWith('HTTP/1.1 400 ')).toBe(true);
    expect(bodyOf(raw)).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  });
});
