# syntax=docker/dockerfile:1
# The EdgeGuard sidecar image (`edgeguard serve`, docs/sidecar.md): the native
# CLI statically linked against musl (the same build as `cargo xtask dist`;
# musl-gcc compiles its one C dependency, the mimalloc allocator), in a
# distroless static image running as non-root.
#
#   docker build -t edgeguard:0.1.0 .
#   docker run --rm -p 8080:8080 -v $PWD/edgeguard.yaml:/etc/edgeguard/edgeguard.yaml:ro edgeguard:0.1.0

FROM rust:1.95-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl \
 && apt-get update && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin edgeguard \
 && cp target/x86_64-unknown-linux-musl/release/edgeguard /edgeguard

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /edgeguard /usr/local/bin/edgeguard
# distroless `nonroot`: uid/gid 65532.
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/edgeguard"]
CMD ["serve", "--config", "/etc/edgeguard/edgeguard.yaml"]
