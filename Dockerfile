# The controller and gateway image: a static (musl) tollgate binary on Alpine with the `git` binary (tollgate pushes
# client files with it; gix cannot push yet), OpenSSH's client (Git over SSH), and iproute2 and nftables (the
# gateway sets its routes and its forward filter with them) and `wg` (to read the gateway's device). Runs as a
# non-root user; the gateway's Deployment runs it as root with NET_ADMIN, after a privileged init container that
# only turns on IP forwarding.
#
#   docker build -t tollgate .
#
# Build stage: Alpine's Rust targets musl, so the binary links statically; aws-lc (rustls' crypto provider) is
# built from source with cmake, perl and a C toolchain.
FROM rust:1-alpine AS build
RUN apk add --no-cache build-base cmake perl clang
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin tollgate \
    && strip target/release/tollgate

FROM alpine:3
RUN apk add --no-cache git openssh-client ca-certificates iproute2 nftables wireguard-tools-wg \
    && addgroup -S -g 65532 tollgate \
    && adduser -S -D -H -u 65532 -G tollgate tollgate
COPY --from=build /src/target/release/tollgate /usr/local/bin/tollgate
USER 65532:65532
ENV HOME=/tmp
EXPOSE 8080 51820/udp
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["controller"]
