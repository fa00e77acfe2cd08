/* global process, fetch, AbortSignal */
// Container health check without curl (the slim image has none): exit 0 when the URL answers 2xx.
// Usage: node deploy/docker/healthcheck.js [url]; default http://127.0.0.1:$PORT/health/live.
'use strict';

// eslint-disable-next-line no-restricted-properties -- runs outside the app, beside it: no AppConfig here
const url = process.argv[2] || `http://127.0.0.1:${process.env.PORT || 3000}/health/live`;

fetch(url, { signal: AbortSignal.timeout(4000) }).then(
  (res) => process.exit(res.ok ? 0 : 1),
  () => process.exit(1),
);
