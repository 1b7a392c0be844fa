"""dissect/: the facts a capture yields, read through real tshark."""

from __future__ import annotations

import subprocess

from conftest import CAPTURES, PUBLIC

from netwhy.dissect import icmp
from netwhy.dissect.capture import CaptureReader
from netwhy.dissect.facts import IcmpMessage, TcpControl, UdpConversation, UdpFirst
from netwhy.dissect.fields import DISABLED_PROTOCOLS
from netwhy.dissect.tshark import FieldsCapture, tshark_path_and_version


def facts_of(path):
    reader = CaptureReader(path)
    return list(reader.facts()), reader.summary


def test_icmp_error_carries_the_quoted_datagram() -> None:
    facts, summary = facts_of(CAPTURES / "path-mtu-df.pcapng")
    errors = [f for f in facts if isinstance(f, IcmpMessage) and icmp.is_error(f.type)]
    assert [(e.frame, e.type, e.code, e.mtu, e.src) for e in errors] == [
        (4, 3, 4, 1280, "192.0.2.1"), (6, 3, 4, 1280, "192.0.2.1")]
    udp_quote = errors[1].quoted
    assert (udp_quote.src, udp_quote.dst, udp_quote.proto, udp_quote.dport) == (
        "192.0.2.10", "203.0.113.20", 17, 5001)
    # Linux quotes the header as it arrived, before its own TTL decrement.
    assert udp_quote.df is True and udp_quote.ttl == 64 and udp_quote.ip_id is not None
    assert errors[0].quoted.icmp_type == 8  # the ping it refused
    assert summary.packets == 6 and summary.truncated is None


def test_tcp_control_segments() -> None:
    facts, _ = facts_of(CAPTURES / "clean.pcapng")
    control = [(f.frame, f.syn, f.ack, f.rst) for f in facts if isinstance(f, TcpControl)]
    assert control[:2] == [(7, True, False, False), (8, True, True, False)]


def test_udp_is_counted_not_parsed() -> None:
    facts, _ = facts_of(CAPTURES / "udp-service-stops.pcapng")
    firsts = [f for f in facts if isinstance(f, UdpFirst)]
    assert [f.frame for f in firsts] == [3]  # only the conversation's first datagram is a row
    (conversation,) = [f for f in facts if isinstance(f, UdpConversation)]
    assert (conversation.frames_a_to_b, conversation.frames_b_to_a) == (5, 3)


def test_single_packet_capture_counts_its_packet() -> None:
    _, summary = facts_of(PUBLIC / "zeek" / "icmp-destunreach-udp.pcap")
    assert summary.packets == 1


def test_application_dissectors_no_rule_reads_are_off() -> None:
    # tshark's protocol hierarchy names every dissector that ran: SNMP must not be one.
    capture = FieldsCapture(CAPTURES / "snmp-no-agent.pcapng", *tshark_path_and_version())
    try:
        lines = [line for batch in capture.batches() for line in batch]
    finally:
        capture.close()
    hierarchy = {line.split()[0] for line in lines if "frames:" in line}
    assert "udp" in hierarchy and "data" in hierarchy
    assert not hierarchy & set(DISABLED_PROTOCOLS)


def test_every_disabled_protocol_exists_in_this_tshark() -> None:
    # tshark 4.4 refuses to start on a name it does not know (4.0 ignored it): one wrong name
    # here stops every analysis there.
    tshark, _ = tshark_path_and_version()
    listing = subprocess.run([tshark, "-G", "protocols"], capture_output=True, text=True,
                             check=True).stdout
    filter_names = {line.split("\t")[2] for line in listing.splitlines() if line.count("\t") >= 2}
    assert set(DISABLED_PROTOCOLS) <= filter_names, set(DISABLED_PROTOCOLS) - filter_names
