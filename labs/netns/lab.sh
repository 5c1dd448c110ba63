#!/usr/bin/env bash
# The levee network-namespace lab: four namespaces wired to one router namespace.
#
#   NAME-att  attacker  203.0.113.2/24  --  203.0.113.1/24  eth-att  ┐
#   NAME-vic  victim    192.0.2.10/24   --  192.0.2.1/24    eth-vic  ├ NAME-rtr (forwards)
#   NAME-lev  levee     198.51.100.2/24 --  198.51.100.1/24 eth-lev  ┘
#
# Only documentation ranges (RFC 5737) are used, and only inside the namespaces: no
# traffic leaves them. The router namespace is where the edge router's BGP daemon and
# the flow exporter run; levee runs in NAME-lev, reaching the router at 198.51.100.1.
#
#   lab.sh up NAME        create the namespaces, links and routes (NAME: up to 8 chars)
#   lab.sh down NAME      delete them (and so everything running in them loses its links)
#   lab.sh exec NAME ROLE CMD...   run CMD in NAME-ROLE (att, vic, lev or rtr)
#
# The end-to-end test (appliance/tests/lab_netns.rs) runs `up` with its own NAME,
# starts the daemons itself, and runs `down` when it ends. labs/README.md shows the
# same lab run by hand.
set -euo pipefail

usage() {
    sed -n '12,14p' "$0" >&2
    exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
name=$2
[ ${#name} -le 8 ] || { echo "lab.sh: NAME is at most 8 characters" >&2; exit 2; }

ns() { echo "$name-$1"; }
in_ns() { local n; n=$(ns "$1"); shift; ip netns exec "$n" "$@"; }

# link ROLE ROUTER_SIDE_ADDR HOST_SIDE_ADDR: a veth pair between NAME-ROLE and NAME-rtr.
link() {
    local role=$1 rtr_addr=$2 host_addr=$3
    ip link add "eth-$role" netns "$(ns rtr)" type veth peer name eth0 netns "$(ns "$role")"
    in_ns rtr ip addr add "$rtr_addr" dev "eth-$role"
    in_ns rtr ip link set "eth-$role" up
    in_ns "$role" ip addr add "$host_addr" dev eth0
    in_ns "$role" ip link set eth0 up
    in_ns "$role" ip link set lo up
    in_ns "$role" ip route add default via "${rtr_addr%/*}"
}

up() {
    for role in rtr att vic lev; do
        ip netns add "$(ns "$role")"
    done
    in_ns rtr ip link set lo up
    # /proc/sys/net is the namespace's own: forwarding on in the router only.
    in_ns rtr sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
    link att 203.0.113.1/24 203.0.113.2/24
    link vic 192.0.2.1/24 192.0.2.10/24
    link lev 198.51.100.1/24 198.51.100.2/24
}

down() {
    local role
    for role in att vic lev rtr; do
        if ip netns list | grep -qw "$(ns "$role")"; then
            # Processes left in a namespace keep it alive: end them first.
            ip netns pids "$(ns "$role")" | xargs -r kill -9 2>/dev/null || true
            ip netns del "$(ns "$role")"
        fi
    done
}

case $cmd in
    up) down; up ;;
    down) down ;;
    exec)
        [ $# -ge 4 ] || usage
        role=$3
        shift 3
        # exec: the caller's process becomes CMD (ip netns exec execs it too), so
        # signals sent to it reach CMD.
        exec ip netns exec "$(ns "$role")" "$@"
        ;;
    *) usage ;;
esac
