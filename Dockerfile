# syntax=docker/dockerfile:1
# One image for every process mode (APP_MODE=all|api|worker) and for the Nessus simulator
# (`node dist/simulator/main.js`). See docs/DEPLOYMENT.md.
ARG NODE_IMAGE=node:20-bookworm-slim

# --- all dependencies, for the build ---------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: nothing the service needs compiles at install time (msgpackr's native helper is
# optional and ships prebuilt), and third-party install hooks do not run in the build.
RUN npm ci --ignore-scripts --no-audit --no-fund

# --- build: nest build -> dist/main.js, tsc -> dist/simulator/main.js --------------------------------
FROM deps AS build
COPY tsconfig.json tsconfig.build.json tsconfig.simulator.json nest-cli.json ./
COPY src ./src
COPY simulator ./simulator
RUN npm run build

# --- production dependencies only ------------------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data/tasks \
    SCANNER_CONFIG=/app/config/scanners.yaml \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
# Code and dependencies stay owned by root: the service user can read them, not change them.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
COPY deploy/docker/healthcheck.js ./deploy/docker/healthcheck.js
# The task directory belongs to the service user (uid 1000, "node" in the base image); a new named
# volume mounted there inherits that ownership.
RUN mkdir -p /data/tasks && chown -R 1000:1000 /data
# Numeric uid so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 1000:1000
VOLUME ["/data/tasks"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "deploy/docker/healthcheck.js"]
# node is PID 1 and handles SIGTERM (bounded shutdown: SHUTDOWN_TIMEOUT_SECONDS) and SIGHUP (reload
# scanners.yaml) itself.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
