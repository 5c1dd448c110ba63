# levee: multi-stage build to a slim runtime image.
FROM rust:1.95-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p levee

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpcap0.8 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /etc/levee /var/lib/levee
COPY --from=build /src/target/release/levee /usr/local/bin/levee
COPY configs/levee.yaml /etc/levee/levee.yaml
# sFlow, NetFlow, IPFIX
EXPOSE 6343/udp 2055/udp 4739/udp
ENTRYPOINT ["levee", "run", "--config", "/etc/levee/levee.yaml"]
