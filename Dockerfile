# levee: multi-stage build to a slim runtime image that runs as a non-root user.
#
#   docker build -t levee .
#   docker run --network host -v levee-store:/var/lib/levee levee
#   docker run --network host -v /etc/levee:/etc/levee:ro -v levee-store:/var/lib/levee levee
#
# With no config mounted, `levee run` uses its embedded defaults: the sFlow, NetFlow and
# IPFIX listeners on their standard ports (all above 1024), the store in
# /var/lib/levee, the control socket in /run/levee; both directories belong to the
# image's user, levee (uid and gid 10001). A mounted /etc/levee/levee.yaml is used
# instead (readable by uid 10001); `docker run ... levee check` checks it. A bind-mounted
# store directory must be writable by uid 10001.
#
# Capabilities: Docker gives a non-root user none (it sets no ambient capabilities), and
# the defaults need none. Mirror capture needs CAP_NET_RAW (an AF_PACKET socket), the
# null_route adapter CAP_NET_ADMIN (and --network host to matter), BGP on port 179
# CAP_NET_BIND_SERVICE with --network host (in a container's own network namespace
# Docker lets any user bind it); levee names the one it misses. A config that needs them
# runs as root in the container: --user 0 --cap-add NET_RAW --cap-add NET_ADMIN. On a
# host, the systemd unit (scripts/levee.service) gives the levee user exactly these
# three instead.
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
 && groupadd --system --gid 10001 levee \
 && useradd --system --uid 10001 --gid levee --no-create-home --home-dir /var/lib/levee \
      --shell /usr/sbin/nologin levee \
 && install -d -m 0755 /etc/levee
# The embedded defaults' directories (store, control socket and lock), the user's own;
# appliance/tests/service.rs runs this very line before the defaults as uid 10001.
RUN install -d -o 10001 -g 10001 -m 0750 /var/lib/levee /run/levee
COPY --from=build /src/target/release/levee /usr/local/bin/levee
# Every key documented, for writing /etc/levee/levee.yaml; not read by levee.
COPY configs/levee.yaml /usr/share/doc/levee/levee.yaml.example
# BGP, sFlow, NetFlow, IPFIX, and the web endpoint (/metrics) when configured.
EXPOSE 179/tcp 6343/udp 2055/udp 4739/udp 9750/tcp
# The store: incidents, mitigations and the audit log survive the container (a new
# named volume takes the directory's owner from the image).
VOLUME ["/var/lib/levee"]
USER 10001:10001
ENTRYPOINT ["levee"]
CMD ["run"]
