# syntax=docker/dockerfile:1
# Node 26 (the current LTS, Active since 2026-10-28) in both stages: the same major as the
# Linux single executable that npm run dist builds and npm run smoke runs against a real IdP
# in CI, which is how the suite shows the product runs on 26 (the tests themselves run on the
# machine's Node).
#
# Behind a TLS-inspecting proxy, installing the dependencies needs the corporate CA. Pass it as a build secret
# (not an ARG: it stays out of the image and its history):
#   docker build --secret id=npm_ca,src=corp-ca.pem -t bearer-proxy .
# Without --secret the mount is absent and the public CAs are used.

# Build stage: compile TypeScript with the dev dependencies.
FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm_ca,required=false \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies and the compiled output only.
FROM node:26-slim
ENV NODE_ENV=production \
    BEARER_PROXY_CONFIG=/etc/bearer-proxy/proxy.yaml
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm_ca,required=false \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY proxy.yaml.example /etc/bearer-proxy/proxy.yaml.example
USER node
EXPOSE 8080
# The health check uses Node itself: the slim image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Inside a container the proxy must listen on all interfaces to be reachable at all;
# callers from outside the container are not loopback, so they need inbound.users.
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve", "--host", "0.0.0.0"]
