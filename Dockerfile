# levee: multi-stage build to a slim runtime image.
#
#   docker build -t levee .
#   docker run --network host --cap-add NET_ADMIN --cap-add NET_RAW \
#       -v /etc/levee:/etc/levee:ro -v levee-store:/var/lib/levee levee
#
# Capabilities: mirror (SPAN) capture opens an AF_PACKET socket and needs CAP_NET_RAW;
# the null_route adapter writes kernel routes and needs CAP_NET_ADMIN (and the host's
# network namespace to matter: --network host). Flow listeners and BGP need neither
# (BGP on port 179 inside the container is allowed to root; with --user, add
# NET_BIND_SERVICE).
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
 && mkdir -p /etc/levee /var/lib/levee /run/levee
COPY --from=build /src/target/release/levee /usr/local/bin/levee
COPY configs/levee.yaml /etc/levee/levee.yaml
# BGP, sFlow, NetFlow, IPFIX, and the web endpoint (/metrics) when configured.
EXPOSE 179/tcp 6343/udp 2055/udp 4739/udp 9750/tcp
# The store: incidents, mitigations and the audit log survive the container.
VOLUME ["/var/lib/levee"]
ENTRYPOINT ["levee", "run", "--config", "/etc/levee/levee.yaml"]
