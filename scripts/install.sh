#!/usr/bin/env bash
# Installs levee on a Debian machine: system packages, the release binary in
# /usr/local/bin, /etc/levee (with the example config beside the embedded defaults) and
# /var/lib/levee. Run as root from a checkout. Needs a Rust toolchain (rustup or Debian's).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends libpcap-dev pkg-config gcc
cargo build --release --locked -p levee
install -m 0755 target/release/levee /usr/local/bin/levee
install -d -m 0755 /etc/levee /var/lib/levee
# The example documents every key; levee runs on its embedded defaults until
# /etc/levee/levee.yaml exists.
install -m 0644 configs/levee.yaml /etc/levee/levee.yaml.example
# Flow listeners ask for 32 MiB receive buffers; let them have it.
sysctl -qw net.core.rmem_max=33554432 || echo "install.sh: could not raise net.core.rmem_max" >&2
echo "levee installed: $(/usr/local/bin/levee --version)"
