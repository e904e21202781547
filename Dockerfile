# One image per deployable, from one Dockerfile: `docker build --build-arg APP=<app> -t bank/<app> .`
# with APP one of auth-service, user-service, transaction-service, payment-service,
# notification-service, api-gateway, cli (bank-cli: the migration job). The development machines
# have no Docker engine: CI checks this file statically (scripts/check-deploy.mjs); npm start is
# the tested way to run the bank on one machine.

ARG NODE_IMAGE=node:20-bookworm-slim

# Build: every workspace's sources, all dependencies, the TypeScript build; then the dev
# dependencies are pruned, so that only production ones are copied on.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages ./packages
COPY apps ./apps
COPY cli ./cli
RUN npm ci --no-audit --no-fund \
 && npx tsc -b \
 && npm prune --omit=dev --no-audit --no-fund \
 && find . -name '*.test.*' -path '*/dist/*' -delete

# Run: production dependencies and build output only, as the unprivileged node user.
FROM ${NODE_IMAGE}
ARG APP=api-gateway
ENV NODE_ENV=production \
    APP_NAME=${APP} \
    BIND_HOST=0.0.0.0
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/packages ./packages
COPY --from=build --chown=root:root /app/apps ./apps
COPY --from=build --chown=root:root /app/cli ./cli
USER node
# `main.js health` asks the service's own health (gRPC health with its certificate; the
# gateway's /healthz) and exits 0 or 1. Not for cli, whose image runs a job and exits.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/bin/sh", "-c", "exec node \"apps/${APP_NAME}/dist/main.js\" health"]
# exec: node is PID 1 and receives SIGTERM itself (no npm, no shell in between). The V8 flags
# are contracts' SERVICE_NODE_FLAGS (npm run check:deploy holds them equal).
ENTRYPOINT ["/bin/sh", "-c", "if [ \"$APP_NAME\" = cli ]; then exec node cli/dist/main.js \"$@\"; else exec node --max-semi-space-size=2 \"apps/$APP_NAME/dist/main.js\" \"$@\"; fi", "--"]
