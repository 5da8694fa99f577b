# syntax=docker/dockerfile:1
# chainsim: the deterministic Aave V3 chain simulator (JSON-RPC for five chains).
#
# The build context is the repository root (the modules are built with
# GOWORK=off through their relative replace directives, like make gowork-off):
#
#   docker build -f deploy/docker/chainsim.Dockerfile \
#     --build-arg VERSION=$(git describe --always --dirty) -t liqstream/chainsim .

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOWORK=off GOFLAGS=-trimpath
# Module files first, so the dependency download is a cached layer of its own.
COPY services/lib/go.mod services/lib/go.sum services/lib/
COPY services/chainsim/go.mod services/chainsim/go.sum services/chainsim/
RUN --mount=type=cache,target=/root/go/pkg/mod cd services/chainsim && go mod download
COPY services/lib/ services/lib/
COPY services/chainsim/ services/chainsim/
ARG VERSION=dev
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    cd services/chainsim && go build -ldflags "-s -w -X main.version=${VERSION}" -o /out/chainsim ./cmd/chainsim

# Runtime: a static binary on distroless, as the image's unprivileged user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/chainsim /usr/local/bin/chainsim
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/chainsim"]
