# One image for every service; the compose file picks the entry point. Not exercised on the
# development machines (they have no Docker engine): npm start is the tested way to run the bank.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app /app
USER node
