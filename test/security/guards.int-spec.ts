import { Body, Controller, Get, INestApplication, Post, UseGuards } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createHash } from 'node:crypto';
import request from 'supertest';
import { AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { ApiKeyGuard, ClientId, Public } from '../../src/security/api-key.guard';
import { OriginGuard } from '../../src/security/origin.guard';
import { ClientRateLimitGuard } from '../../src/security/rate-limit';
import { SecurityModule } from '../../src/security/security.module';
import { TargetPolicy } from '../../src/security/target-policy';

@Controller('api/v1')
@UseGuards(ApiKeyGuard, ClientRateLimitGuard)
class DummyApiController {
  @Get('whoami')
  whoami(@ClientId() clientId: string) {
    return { clientId };
  }

  @Get('other')
  other(@ClientId() clientId: string) {
    return { clientId, route: 'other' };
  }
}

@Controller('mcp')
@UseGuards(OriginGuard, ApiKeyGuard, ClientRateLimitGuard)
class DummyMcpController {
  @Post()
  call(@ClientId() clientId: string, @Body() body: unknown) {
    return { clientId, body };
  }
}

@Controller('health')
@UseGuards(ApiKeyGuard)
@Public()
class DummyHealthController {
  @Get()
  health() {
    return { status: 'ok' };
  }
}

async function boot(env: Record<string, string>): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(AppConfig.fromEnv(env)), SecurityModule],
    controllers: [DummyApiController, DummyMcpController, DummyHealthController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

const k2Id = `key-${createHash('sha256').update('k2').digest('hex').slice(0, 12)}`;

describe('security guards on a Nest app with API_KEYS', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await boot({ API_KEYS: 'alice:k1,k2', MCP_ALLOWED_ORIGINS: 'https://agent.example.com' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('answers 401 with WWW-Authenticate and a JSON body when the key is missing', async () => {
    const res = await request(app.getHttpServer()).get('/api/v1/whoami').expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'an API key is required: send Authorization: Bearer <key>',
    });
  });

  it('answers 401 for a wrong key without echoing it', async () => {
    const res = await request(app.getHttpServer())
      .get('/api/v1/whoami')
      .set('Authorization', 'Bearer wrong-key-123')
      .expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(res.body.statusCode).toBe(401);
    expect(res.text).not.toContain('wrong-key-123');
    await request(app.getHttpServer()).get('/api/v1/whoami').set('Authorization', 'Basic azE6').expect(401);
  });

  it('lets a valid key through and identifies the client by name or key hash, never the key', async () => {
    const alice = await request(app.getHttpServer())
      .get('/api/v1/whoami')
      .set('Authorization', 'Bearer k1')
      .expect(200);
    expect(alice.body).toEqual({ clientId: 'alice' });
    const anon = await request(app.getHttpServer())
      .get('/api/v1/whoami')
      .set('Authorization', 'Bearer k2')
      .expect(200);
    expect(anon.body).toEqual({ clientId: k2Id });
  });

  it('protects the MCP endpoint with the key as well', async () => {
    await request(app.getHttpServer()).post('/mcp').send({ jsonrpc: '2.0' }).expect(401);
    const res = await request(app.getHttpServer())
      .post('/mcp')
      .set('Authorization', 'Bearer k1')
      .send({ jsonrpc: '2.0' })
      .expect(201);
    expect(res.body.clientId).toBe('alice');
  });

  it('refuses a foreign Origin on the MCP endpoint with 403, even with a valid key', async () => {
    const res = await request(app.getHttpServer())
      .post('/mcp')
      .set('Authorization', 'Bearer k1')
      .set('Origin', 'https://evil.example')
      .send({})
      .expect(403);
    expect(res.body).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message: 'Origin "https://evil.example" is not allowed; add it to MCP_ALLOWED_ORIGINS',
    });
    await request(app.getHttpServer())
      .post('/mcp')
      .set('Authorization', 'Bearer k1')
      .set('Origin', 'null')
      .send({})
      .expect(403);
  });

  it('allows no Origin, a loopback Origin and a configured Origin on the MCP endpoint', async () => {
    for (const origin of [
      undefined,
      'http://localhost:6274',
      'http://127.0.0.1:3000',
      'https://agent.example.com',
    ]) {
      const req = request(app.getHttpServer()).post('/mcp').set('Authorization', 'Bearer k2');
      if (origin) req.set('Origin', origin);
      const res = await req.send({ ok: true }).expect(201);
      expect(res.body).toEqual({ clientId: k2Id, body: { ok: true } });
    }
  });

  it('leaves routes marked @Public() open', async () => {
    await request(app.getHttpServer()).get('/health').expect(200, { status: 'ok' });
  });

  it('provides the configured TargetPolicy', async () => {
    const policy = app.get(TargetPolicy);
    await expect(policy.check(['169.254.169.254'])).rejects.toThrow('cloud metadata');
  });
});

describe('rate limit per API key', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await boot({ API_KEYS: 'alice:k1,bob:k3', RATE_LIMIT_PER_MINUTE: '3' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('answers 429 with Retry-After once a key spends its budget, across routes, without slowing other keys', async () => {
    const server = app.getHttpServer();
    const ok = await request(server).get('/api/v1/whoami').set('Authorization', 'Bearer k1').expect(200);
    expect(ok.headers['x-ratelimit-limit']).toBe('3');
    await request(server).get('/api/v1/other').set('Authorization', 'Bearer k1').expect(200);
    await request(server).post('/mcp').set('Authorization', 'Bearer k1').send({}).expect(201);

    const limited = await request(server).get('/api/v1/whoami').set('Authorization', 'Bearer k1').expect(429);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: `rate limit of 3 requests per minute exceeded; retry after ${retryAfter} s`,
    });

    await request(server)
      .get('/api/v1/whoami')
      .set('Authorization', 'Bearer k3')
      .expect(200, { clientId: 'bob' });
  });
});

describe('security guards without API_KEYS (local mode)', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await boot({ HOST: '127.0.0.1' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('lets requests through as the anonymous client', async () => {
    await request(app.getHttpServer()).get('/api/v1/whoami').expect(200, { clientId: 'anonymous' });
  });

  it('refuses a rebound Host on the MCP endpoint even without an Origin', async () => {
    const res = await request(app.getHttpServer())
      .post('/mcp')
      .set('Host', 'rebind.evil.example:3000')
      .send({});
    expect(res.status).toBe(403);
    expect(res.body.message).toContain('Host "rebind.evil.example:3000" is not allowed');
    await request(app.getHttpServer()).post('/mcp').set('Host', 'localhost:3000').send({}).expect(201);
  });
});
