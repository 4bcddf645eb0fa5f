# syntax=docker/dockerfile:1
# The StreamBus broker image: `streambus` (the CLI of packages/broker) as the entrypoint, running
# `streambus server --config /etc/streambus/server.yaml` as user streambus (uid/gid 10001) with its
# data under /var/lib/streambus. Build from the repository root:
#
#   docker build -t streambus/streambus:0.1.0 .
#
# No container engine runs on the development machines or CI of this repository: the chart test
# (test-cluster/test/chart.test.ts) runs the same command line without a container. See
# deploy/README.md.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: every dependency, then the TypeScript of the broker and the packages it imports ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# The manifests first, so that the npm ci layer is reused while only sources change. npm ci
# needs every workspace's package.json to match the lockfile.
COPY package.json package-lock.json ./
COPY packages/raft/package.json packages/raft/
COPY packages/proto/package.json packages/proto/
COPY packages/storage/package.json packages/storage/
COPY packages/client/package.json packages/client/
COPY packages/broker/package.json packages/broker/
COPY packages/chaos/package.json packages/chaos/
COPY test-cluster/package.json test-cluster/
# No install scripts, as in the repository (package.json allowScripts): classic-level, esbuild
# and @node-rs/crc32 ship prebuilt binaries for linux-x64 and linux-arm64.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.base.json tsconfig.json ./
COPY packages/raft packages/raft
COPY packages/proto packages/proto
COPY packages/storage packages/storage
COPY packages/client packages/client
COPY packages/broker packages/broker
# `tsc -b` of the broker builds the packages it references first (raft, proto, storage, client).
RUN npx tsc -b packages/broker

# ---- deps: production dependencies only (no TypeScript, vitest, turbo, eslint) ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/raft/package.json packages/raft/
COPY packages/proto/package.json packages/proto/
COPY packages/storage/package.json packages/storage/
COPY packages/client/package.json packages/client/
COPY packages/broker/package.json packages/broker/
COPY packages/chaos/package.json packages/chaos/
COPY test-cluster/package.json test-cluster/
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

# ---- runtime: production dependencies, the built dist/ folders and the CLI launcher ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
RUN groupadd --system --gid 10001 streambus \
 && useradd --system --uid 10001 --gid streambus --home-dir /var/lib/streambus --no-create-home --shell /usr/sbin/nologin streambus \
 && mkdir -p /var/lib/streambus /etc/streambus/tls \
 && chown streambus:streambus /var/lib/streambus \
 && chmod 0750 /var/lib/streambus
WORKDIR /app
COPY --from=deps /app/package.json /app/package-lock.json ./
# node_modules/@streambus/* are links to packages/*: the workspace layout is kept as it is.
COPY --from=deps /app/node_modules node_modules
COPY --from=build /src/packages/raft/package.json packages/raft/
COPY --from=build /src/packages/raft/dist packages/raft/dist
COPY --from=build /src/packages/proto/package.json packages/proto/
COPY --from=build /src/packages/proto/dist packages/proto/dist
COPY --from=build /src/packages/proto/proto packages/proto/proto
COPY --from=build /src/packages/storage/package.json packages/storage/
COPY --from=build /src/packages/storage/dist packages/storage/dist
COPY --from=build /src/packages/client/package.json packages/client/
COPY --from=build /src/packages/client/dist packages/client/dist
COPY --from=build /src/packages/broker/package.json packages/broker/
COPY --from=build /src/packages/broker/dist packages/broker/dist
COPY --from=build /src/packages/broker/bin packages/broker/bin
# The bin of packages/broker/package.json: a committed launcher that imports dist/cli/main.js.
RUN ln -s /app/packages/broker/bin/streambus.js /usr/local/bin/streambus
# A single-broker server.yaml for `docker run`; the Helm chart mounts its own over /etc/streambus.
COPY deploy/server.yaml /etc/streambus/server.yaml
USER 10001:10001
VOLUME /var/lib/streambus
# 9092: client and peer gRPC (server.listen: one listener serves both); 9090: admin HTTP
# (server.admin_listen: /live, /ready, /health, /metrics).
EXPOSE 9092 9090
# Node is PID 1: the CLI handles SIGTERM itself (graceful stop with leadership hand-off).
ENTRYPOINT ["streambus"]
CMD ["server", "--config", "/etc/streambus/server.yaml"]
