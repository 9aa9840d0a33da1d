# sluice container image: a release build on Debian, run as an unprivileged user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev pkg-config cmake && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked --bin sluice

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 sluice
COPY --from=build /src/target/release/sluice /usr/local/bin/sluice
USER sluice
EXPOSE 9464
ENTRYPOINT ["sluice"]
CMD ["run", "-c", "/etc/sluice/pipeline.toml"]
