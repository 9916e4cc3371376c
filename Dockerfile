# syncwatch in a container: one static-ish binary plus its default files.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/target/release/syncwatch /usr/local/bin/syncwatch
COPY syncwatch.toml alerting.yml ./
COPY rules ./rules
COPY runbooks ./runbooks
COPY providers ./providers
COPY examples ./examples
COPY schemas ./schemas
COPY slos ./slos
EXPOSE 8080 9100
ENTRYPOINT ["syncwatch"]
CMD ["serve", "--config", "syncwatch.toml"]
