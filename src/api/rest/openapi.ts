import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ApiModule } from '../api.module';

/** Where the OpenAPI UI and its JSON document are served. */
export const OPENAPI_PATH = 'api/docs';
export const OPENAPI_JSON_PATH = 'api/docs-json';
export const OPENAPI_YAML_PATH = 'api/docs-yaml';

/** The OpenAPI 3 document of the REST API, generated from the controllers and DTOs. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('nessus-mcp-gateway REST API')
    .setDescription(
      'Runs Tenable Nessus scans through a queue. Submit a scan (202), poll its status until `completed`, then ' +
        'read the findings (JSON or JSON lines) or download the raw .nessus report. Every response carries ' +
        '`X-Trace-Id`; every error is `{statusCode, error, message, trace_id}`. The same operations are ' +
        'available as MCP tools at /mcp.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'One of the API_KEYS tokens.' })
    .addTag('scans', 'Submit, track, read and cancel scans')
    .addTag('infrastructure', 'Scanners, pools and the queue')
    .build();
  // ApiModule's own controllers only: the MCP transport endpoints (in McpModule) are not REST operations.
  return SwaggerModule.createDocument(app, config, {
    include: [ApiModule],
    deepScanRoutes: false,
    operationIdFactory: (_controller, method) => method,
  });
}

/**
 * Serves the UI at /api/docs, the JSON at /api/docs-json and YAML at /api/docs-yaml (call before the app is
 * initialised). Like every /api path they need the bearer token when API_KEYS is set (requireApiKey).
 */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup(OPENAPI_PATH, app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: OPENAPI_JSON_PATH,
    yamlDocumentUrl: OPENAPI_YAML_PATH,
  });
}
