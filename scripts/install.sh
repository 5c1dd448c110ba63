#!/usr/bin/env bash
# Installs levee on a Debian machine: system packages, the release binary in
# /usr/local/bin, /etc/levee (with the example config beside the embedded defaults),
# the levee system user, /var/lib/levee (its own), a receive-buffer sysctl and the
# systemd unit that runs levee as that user with only its capabilities (not enabled).
# Running it again is safe: the user is created once, existing files are kept.
# Run as root from a checkout. With DESTDIR set, the files are staged under it instead
# (for packaging) and the running system's sysctl and systemd are left alone.
#
# Needs Rust >= 1.89 (edition 2024), from rustup: Debian 12's own rustc (1.63) is too
# old. The release build takes about 7 minutes on 2 cores.
set -euo pipefail
need_rust=1.89

die() { echo "install.sh: $*" >&2; exit 1; }

# A staging root for packaging: absolute, taken before the cd below.
root=${DESTDIR:-}
if [ -n "$root" ]; then
  mkdir -p "$root"
  root=$(cd "$root" && pwd)
fi
cd "$(dirname "$0")/.."

[ -n "$root" ] || [ "$(id -u)" -eq 0 ] \
  || die "run as root (it installs packages and writes /usr/local/bin, /etc/levee, /var/lib/levee), or set DESTDIR to stage the files"
command -v cargo >/dev/null && command -v rustc >/dev/null \
  || die "no Rust toolchain on PATH: install Rust >= $need_rust with rustup (https://rustup.rs), then run this again (sudo resets PATH: use 'sudo env PATH=\"\$PATH\" ./scripts/install.sh')"
have_rust=$(rustc --version | awk '{print $2}') || die "rustc --version failed"
if [ "$(printf '%s\n%s\n' "$need_rust" "$have_rust" | sort -V | head -n1)" != "$need_rust" ]; then
  die "rustc $have_rust is too old: levee needs Rust >= $need_rust (edition 2024); run 'rustup update stable' (Debian's own rustc is too old)"
fi

if [ -z "$root" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends libpcap-dev pkg-config gcc
fi
echo "install.sh: building levee with rustc $have_rust (about 7 minutes on 2 cores)"
cargo build --release --locked -p levee
# Where cargo put it: honours CARGO_TARGET_DIR and build.target-dir.
target_dir=$(cargo metadata --format-version 1 --no-deps --locked \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -x "$target_dir/release/levee" ] || die "cargo did not leave a binary at $target_dir/release/levee"
install -D -m 0755 "$target_dir/release/levee" "$root/usr/local/bin/levee"
install -d -m 0755 "$root/etc/levee" "$root/etc/sysctl.d"
if [ -z "$root" ]; then
  # The service's user: a system account with no home and no shell, created once.
  getent group levee >/dev/null || groupadd --system levee
  id -u levee >/dev/null 2>&1 \
    || useradd --system --gid levee --no-create-home --home-dir /var/lib/levee \
         --shell /usr/sbin/nologin levee
  # The store is levee's (files a root `levee run` left included); the unit's
  # StateDirectory= keeps it so.
  install -d -m 0750 -o levee -g levee /var/lib/levee
  chown -R levee:levee /var/lib/levee
  # The service reads the config as levee: group-readable, never world-readable (it
  # may name secrets).
  if [ -f /etc/levee/levee.yaml ]; then
    chgrp levee /etc/levee/levee.yaml && chmod g+r,o-rwx /etc/levee/levee.yaml
  fi
else
  # Staged for a package: its maintainer scripts create the user and own the store.
  install -d -m 0750 "$root/var/lib/levee"
fi
# The example documents every key; levee runs on its embedded defaults until
# /etc/levee/levee.yaml exists.
install -m 0644 configs/levee.yaml "$root/etc/levee/levee.yaml.example"
# Flow listeners ask for 32 MiB receive buffers; let them have it, now and after a reboot.
echo "net.core.rmem_max = 33554432" > "$root/etc/sysctl.d/90-levee.conf"
install -D -m 0644 scripts/levee.service "$root/etc/systemd/system/levee.service"
if [ -z "$root" ]; then
  # Raise it, never lower what an administrator set higher.
  if [ "$(sysctl -n net.core.rmem_max 2>/dev/null || echo 0)" -lt 33554432 ]; then
    sysctl -qw net.core.rmem_max=33554432 || echo "install.sh: could not raise net.core.rmem_max" >&2
  fi
  systemctl daemon-reload 2>/dev/null || true
fi
echo "levee installed: $("$root/usr/local/bin/levee" --version)"
echo "next: 'levee run' on the embedded defaults, or write /etc/levee/levee.yaml (see the example), 'levee check', then 'systemctl enable --now levee' (it runs as the levee user)"
