#!/usr/bin/env bash
# Seeds each fuzz target's corpus with the UDP payloads of the fixture captures, minus the
# bytes each target prepends itself. Needs tshark.
set -euo pipefail
cd "$(dirname "$0")"
fx=../../tests/fixtures/flows
seed() { # target file strip
    mkdir -p "corpus/$1"
    local i=0
    tshark -r "$fx/$2" -T fields -e udp.payload 2>/dev/null | while read -r hex; do
        i=$((i + 1))
        echo "$hex" | xxd -r -p | tail -c +"$(($3 + 1))" >"corpus/$1/$2-$i"
    done
}
seed sflow pmacct-sfprobe.pcap 4
seed sflow pmacct-sfprobe-sampled.pcap 4
seed netflow5 softflowd-v5.pcap 2
seed netflow9 softflowd-v9.pcap 2
seed netflow9 softflowd-v9-sampled.pcap 2
seed netflow9 pmacct-nfprobe-v9.pcap 2
seed ipfix softflowd-ipfix.pcap 4
seed ipfix pmacct-nfprobe-ipfix.pcap 4
mkdir -p corpus/packet_header
tshark -r "$fx/traffic.pcap" -T fields -e frame.number | while read -r n; do
    tshark -r "$fx/traffic.pcap" -Y "frame.number == $n" -w - -F pcap 2>/dev/null | tail -c +41 >"corpus/packet_header/frame-$n"
    [ "$n" -ge 60 ] && break
done
ls corpus | while read -r t; do echo "$t: $(ls "corpus/$t" | wc -l) seeds"; done
