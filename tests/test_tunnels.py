"""Packets inside tunnels reach the rules wherever tshark opens the tunnel: the prefilter hands
every datagram on a frame-carrying port to tshark. GTP' on udp/3386 (a mobile core's charging
and user-plane hops) is built with scapy: no kernel sends it."""

from __future__ import annotations

from pathlib import Path

from conftest import explain_json
from scapy.all import ICMP, IP, TCP, UDP, Ether, wrpcap
from scapy.contrib.gtp import GTP_U_Header

GTP_PRIME_PORT = 3386


def gtp_prime_capture(path: Path) -> Path:
    """A subscriber's SYN and the ICMP host-prohibited about it, each inside GTP on udp/3386."""
    syn = IP(src="10.45.0.2", dst="198.51.100.20", id=77, flags="DF") / TCP(
        sport=40000, dport=443, flags="S", seq=1000)
    refusal = IP(src="10.45.0.1", dst="10.45.0.2") / ICMP(type=3, code=10) / bytes(syn)[:28]
    packets = []
    for offset, inner in enumerate((syn, refusal)):
        outer = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                 / IP(src="192.0.2.1", dst="192.0.2.2")
                 / UDP(sport=GTP_PRIME_PORT, dport=GTP_PRIME_PORT)
                 / GTP_U_Header(gtp_type=255, teid=0x1234) / inner)
        outer.time = 1_700_000_000 + offset
        packets.append(outer)
    wrpcap(str(path), packets)
    return path


def test_an_icmp_error_inside_gtp_prime_is_diagnosed(tmp_path: Path) -> None:
    report = explain_json(gtp_prime_capture(tmp_path / "gtp-prime.pcap"))
    top, = report["diagnoses"]
    assert top["condition"] == "icmp.unreachable.host-prohibited"
    assert (top["subject"]["src"], top["subject"]["dst"], top["subject"]["dport"]) == (
        "10.45.0.2", "198.51.100.20", 443)
    assert top["reporter"] == "10.45.0.1" and top["evidence"] == [1, 2]
