# syntax=docker/dockerfile:1.7
#
# The fedimpute image: one binary, no shell, non-root, read-only root
# filesystem friendly. Build:
#
#   DOCKER_BUILDKIT=1 docker build -t fedimpute:0.1.0 .
#
# Run everything in one container (development):
#
#   docker run --rm --read-only --tmpfs /tmp -v fedimpute-data:/var/lib/fedimpute \
#     -p 8000:8000 fedimpute:0.1.0
#
# In Kubernetes each pod runs one component (`serve registry|users|jobs|gateway`);
# see k8s/ and docs/operations.md. Health needs no tool in the image: the
# probes speak gRPC health (grpc.health.v1) and the gateway's /healthz and /readyz.
#
# Base images are pinned by tag and digest (the digests are those published for
# these tags; check and refresh them with
# `docker buildx imagetools inspect <image:tag>` when bumping a tag, and keep the
# tag and digest in step). Override with --build-arg to use a mirror.
ARG RUST_IMAGE=docker.io/library/rust:1.94.0-slim-bookworm@sha256:a86cada82e36ebd7a9bffed7548792c55a952fdb20718eea9278a936bcb76e62
# Debian 12 (bookworm) like the build stage, so glibc matches. Distroless
# publishes no version tags: the digest is the pin.
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f

# ---------------------------------------------------------------- build
FROM ${RUST_IMAGE} AS build
WORKDIR /src
# No incremental state in release builds; symbols stripped (a smaller image;
# panics still print their message and location).
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0 \
    CARGO_PROFILE_RELEASE_STRIP=symbols
# The whole workspace is needed: cargo loads every member's manifest, and the
# proto crate's build.rs compiles proto/ (pure Rust, no protoc). .dockerignore
# keeps target/, data/, .git and the deployment files out of the context.
COPY . .
# Dependency caching: BuildKit cache mounts keep the crates.io registry, git
# checkouts and the target directory between builds, so a change to one crate
# recompiles that crate and what depends on it, not the ~400 dependencies.
# (The target dir is a cache, not a layer: the binary is copied out in the
# same step.) --locked: Cargo.lock is the truth; a stale lock fails the build.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p fedimpute \
 && install -D -m 0755 target/release/fedimpute /out/usr/local/bin/fedimpute \
 && install -d -m 0750 /out/var/lib/fedimpute \
 && /out/usr/local/bin/fedimpute --version

# ---------------------------------------------------------------- runtime
FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="fedimpute" \
      org.opencontainers.image.description="Federated genotype-imputation platform: registry, users, jobs and gateway in one binary" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/usr/local/bin/fedimpute /usr/local/bin/fedimpute
# The data directory (development keys, SQLite, local file store). In a
# cluster it is a volume (emptyDir or PVC); the root filesystem stays read-only.
COPY --from=build --chown=65532:65532 /out/var/lib/fedimpute /var/lib/fedimpute
ENV FEDIMPUTE_DATA_DIR=/var/lib/fedimpute \
    FEDIMPUTE_GATEWAY_ADDR=0.0.0.0:8000
# distroless "nonroot": uid/gid 65532, numeric so runAsNonRoot can check it.
USER 65532:65532
WORKDIR /var/lib/fedimpute
# 8000 gateway (REST, grpc-web, gRPC); 50051-50053 registry, users, jobs
# (gRPC); 9090 Prometheus metrics (FEDIMPUTE_METRICS_ADDR).
EXPOSE 8000 50051 50052 50053 9090
ENTRYPOINT ["/usr/local/bin/fedimpute"]
CMD ["serve"]
