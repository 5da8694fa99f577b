# syntax=docker/dockerfile:1
# ingest: one chain's liquidations from JSON-RPC into Kafka (one process per chain).
#
# The build context is the repository root (the modules are built with
# GOWORK=off through their relative replace directives, like make gowork-off):
#
#   docker build -f deploy/docker/ingest.Dockerfile \
#     --build-arg VERSION=$(git describe --always --dirty) -t liqstream/ingest .

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOWORK=off GOFLAGS=-trimpath
# Module files first, so the dependency download is a cached layer of its own.
COPY proto/go.mod proto/go.sum proto/
COPY schemas/go.mod schemas/
COPY services/lib/go.mod services/lib/go.sum services/lib/
COPY services/chainsim/go.mod services/chainsim/go.sum services/chainsim/
COPY services/ingest/go.mod services/ingest/go.sum services/ingest/
COPY services/aggregator/go.mod services/aggregator/go.sum services/aggregator/
COPY services/liqstream/go.mod services/liqstream/go.sum services/liqstream/
RUN --mount=type=cache,target=/root/go/pkg/mod cd services/ingest && go mod download
COPY proto/ proto/
COPY schemas/ schemas/
COPY services/ services/
ARG VERSION=dev
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    cd services/ingest && go build -ldflags "-s -w -X main.version=${VERSION}" -o /out/ingest ./cmd/ingest

# Runtime: a static binary on distroless, as the image's unprivileged user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ingest /usr/local/bin/ingest
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ingest"]
