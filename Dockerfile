# sigward container image. Build: docker build -t sigward .
# Run:  docker run -p 5050:5050 -v /path/to/sigward.yaml:/etc/sigward/sigward.yaml:ro sigward
# No policy is baked in: a signature-enforcing proxy must not start on a default it was not given.
# The TypeScript is compiled to dist/ in a build stage; the daemon runs the JavaScript (tsx's loader thread would cost
# ~35 MiB of memory).

# ---- dependencies: production packages only, from the committed lockfile ----
FROM node:24-slim AS deps
WORKDIR /opt/sigward
COPY package.json package-lock.json ./
# npm 11 skips esbuild's postinstall (no allowScripts entry); tsx does not need it: esbuild's platform binary comes
# from its optional dependency. The check below fails the build if the loader cannot start.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && node --import tsx -e 'process.exit(0)'

# ---- build: compile src/ to dist/ with the dev dependencies ----
FROM node:24-slim AS build
WORKDIR /opt/sigward
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
RUN npm run build

# ---- runtime ----
FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /opt/sigward
RUN groupadd --system sigward \
 && useradd --system --gid sigward --home-dir /var/lib/sigward --shell /usr/sbin/nologin sigward \
 && mkdir -p /var/cache/sigward /var/lib/sigward /etc/sigward \
 && chown sigward:sigward /var/cache/sigward /var/lib/sigward
COPY --from=deps /opt/sigward/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /opt/sigward/dist ./dist
# The public-good Sigstore trust root (see its PROVENANCE.md), for `trust.roots.<name>.trustedRoot:
# /opt/sigward/config/sigstore-public-good.trusted_root.json`; the config itself is mounted at /etc/sigward.
COPY config/sigstore-public-good.trusted_root.json config/sigstore-public-good.PROVENANCE.md ./config/
USER sigward
VOLUME ["/var/cache/sigward"]
EXPOSE 5050
# Health is /healthz (process up), not /readyz (can serve: config loaded, store writable; see the README). Docker
# has one health state and restart policies and orchestrators act on "unhealthy" by replacing the container: that
# cannot fix what /readyz reports (a read-only or full cache volume; only /sget needs it, /v2/ pulls still work),
# and would throw away warm caches. Point a load balancer's or Kubernetes' readiness check at /readyz instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:5050/healthz').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
# Memory and blob throughput: two malloc arenas, a 1 MiB semi-space, a 64 MiB first old-generation limit (README:
# "Memory and blob throughput").
ENV MALLOC_ARENA_MAX=2
ENTRYPOINT ["node", "--max-semi-space-size=1", "--initial-old-space-size=64", "bin/sigward.mjs"]
CMD ["serve", "--config", "/etc/sigward/sigward.yaml", "--listen", "0.0.0.0:5050"]
