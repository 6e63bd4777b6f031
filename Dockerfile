# gatehouse: build with the Rust toolchain, run on a slim Debian.
# SQLite, libpq and OpenSSL (libpq's TLS) are compiled in (bundled), so the
# runtime image needs no database or TLS libraries. OpenSSL's build needs
# perl and make, which the rust:1-bookworm image has.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
# The workspace's other members: the protocol rules and their primitives
# (crates/), and the resource-server crate.
COPY crates ./crates
COPY gatehouse-guard ./gatehouse-guard
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
# Cargo.toml names the test and bench targets, so their files must exist.
COPY bench ./bench
COPY tests ./tests
COPY examples ./examples
RUN cargo build --release --locked --bin gatehouse

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/gatehouse --create-home gatehouse
COPY --from=build /src/target/release/gatehouse /usr/local/bin/gatehouse
USER gatehouse
WORKDIR /var/lib/gatehouse
# Set GATEHOUSE_ISSUER to the public URL clients use (the default,
# http://0.0.0.0:8080, is only right for a quick local try).
ENV GATEHOUSE_BIND=0.0.0.0:8080 \
    GATEHOUSE_DATABASE_URL=sqlite:///var/lib/gatehouse/gatehouse.db \
    GATEHOUSE_KEYS_DIR=/var/lib/gatehouse/keys
VOLUME ["/var/lib/gatehouse"]
EXPOSE 8080
# The slim image has no curl: the binary asks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["gatehouse", "healthcheck"]
ENTRYPOINT ["gatehouse"]
CMD ["serve"]
