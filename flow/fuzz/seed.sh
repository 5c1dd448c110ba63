#!/usr/bin/env bash
# Seeds each fuzz target's checked-in regression corpus (regressions/TARGET/, run by
# `cargo test -p levee-flow --test fuzz_regressions`) with the UDP payloads of the fixture
# captures (the first 16 of each), minus the bytes each target prepends itself; for the template formats also
# one input holding a whole capture's datagrams in order (joined by the target's
# separator), so templates learned from one datagram decode the next. Needs tshark.
# Crash inputs found by `cargo fuzz run` go in beside them, named crash-*.
set -euo pipefail
cd "$(dirname "$0")"
fx=../../tests/fixtures/flows
out=regressions
seed() { # target file strip [separator]
    mkdir -p "$out/$1"
    local i=0
    # The first 16 datagrams of each capture: enough variety, and the corpus stays small.
    tshark -r "$fx/$2" -c 16 -T fields -e udp.payload 2>/dev/null | while read -r hex; do
        i=$((i + 1))
        echo "$hex" | xxd -r -p | tail -c +"$(($3 + 1))" >"$out/$1/seed-$2-$i"
    done
    if [ -n "${4:-}" ]; then
        local joined="$out/$1/seed-$2-stream"
        : >"$joined"
        for f in $(ls "$out/$1/seed-$2-"* | grep -v -- -stream | sort -V); do
            [ -s "$joined" ] && printf '%s' "$4" >>"$joined"
            cat "$f" >>"$joined"
        done
    fi
}
seed sflow pmacct-sfprobe.pcap 4
seed sflow pmacct-sfprobe-sampled.pcap 4
seed netflow5 softflowd-v5.pcap 2
seed netflow9 softflowd-v9.pcap 2 NF9!
seed netflow9 softflowd-v9-sampled.pcap 2 NF9!
seed netflow9 pmacct-nfprobe-v9.pcap 2 NF9!
seed ipfix softflowd-ipfix.pcap 4 IPFX
seed ipfix pmacct-nfprobe-ipfix.pcap 4 IPFX
mkdir -p "$out/packet_header"
tshark -r "$fx/traffic.pcap" -T fields -e frame.number | while read -r n; do
    tshark -r "$fx/traffic.pcap" -Y "frame.number == $n" -w - -F pcap 2>/dev/null | tail -c +41 >"$out/packet_header/seed-frame-$n"
    [ "$n" -ge 60 ] && break
done
ls "$out" | while read -r t; do echo "$t: $(ls "$out/$t" | wc -l) inputs"; done
