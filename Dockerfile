# One image for the operator and every runtime subcommand:
#   shardline operator | runtime | delivery | analytics
# Build: docker build -t shardline:0.1.0 .
# Node 24: the current LTS line (the AWS SDK v3 requires Node >= 22 from January 2027).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY common ./common
COPY contract ./contract
COPY runtime ./runtime
COPY stream ./stream
COPY analytics ./analytics
COPY contract ./contract
COPY consumer ./consumer
COPY producer ./producer
COPY operator ./operator
COPY crds ./crds
COPY cdk8s ./cdk8s
COPY examples ./examples
COPY bench ./bench
COPY test ./test
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf dist/test dist/bench dist/examples dist/crds/generate.js*

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY crds ./crds
# Non-root, read-only root filesystem friendly (the manifests set readOnlyRootFilesystem).
USER 1000:1000
EXPOSE 4567
ENTRYPOINT ["node", "/app/dist/runtime/cli.js"]
CMD ["--help"]
