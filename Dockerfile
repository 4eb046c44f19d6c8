# syntax=docker/dockerfile:1
# Apiary's image: the `apiary` binary and the console's site (CSS and the hydrate wasm) on
# distroless, running as the non-root user 65532. The Helm chart (deploy/helm/apiary) runs it
# as `apiary serve --runtime kubernetes`.
#
#   docker build -t ghcr.io/apiary/apiary:0.1.0 .
ARG RUST_VERSION=1.95.0
ARG WASM_BINDGEN_VERSION=0.2.130

# The Tailwind CSS; it scans the app's sources for class names.
FROM node:22-bookworm-slim AS css
WORKDIR /src
COPY style/package.json style/package-lock.json style/
RUN cd style && npm ci --no-audit --no-fund --loglevel=error
COPY style style
COPY app/src app/src
RUN style/node_modules/.bin/tailwindcss -i style/tailwind.css -o /site/pkg/apiary.css --minify

# The hydrate bundle and the server, as .ci/build builds them.
FROM rust:${RUST_VERSION}-bookworm AS build
ARG RUST_VERSION
ARG WASM_BINDGEN_VERSION
# rust-toolchain.toml says `stable`; build with the image's pinned toolchain instead.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION} CARGO_INCREMENTAL=0
RUN rustup target add wasm32-unknown-unknown \
 && cargo install wasm-bindgen-cli --version "${WASM_BINDGEN_VERSION}" --locked
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked -p apiary-frontend --lib --target wasm32-unknown-unknown \
      --profile wasm-release \
 && wasm-bindgen --target web --no-typescript --out-dir /site/pkg --out-name apiary \
      target/wasm32-unknown-unknown/wasm-release/apiary_frontend.wasm \
 && cargo build --locked -p apiary-server --bin apiary --release \
 && install -D target/release/apiary /out/bin/apiary \
 && mkdir -p /out/data

# glibc and CA certificates, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/bin/apiary /app/bin/apiary
COPY --from=build /site/pkg/ /app/site/pkg/
COPY --from=css /site/pkg/apiary.css /app/site/pkg/apiary.css
# The data folder (local runtime state, or SQLite for a trial): writable by the user, and an
# emptyDir or volume in Kubernetes, where the root filesystem is read-only.
COPY --from=build --chown=65532:65532 /out/data /var/lib/apiary
ENV APIARY_SITE_DIR=/app/site APIARY_DATA_DIR=/var/lib/apiary
USER 65532:65532
EXPOSE 3000
ENTRYPOINT ["/app/bin/apiary"]
CMD ["serve", "--runtime", "kubernetes"]
