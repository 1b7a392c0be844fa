"""Hypothesis strategies for the facts dissect/ hands on (dissect/facts.py), and the check that
runs them through observations, rules and both renderers.

Values stay inside what tshark can print for each field (dotted IPv4 addresses, MACs, 8- and
16-bit numbers, frame numbers, relative times of any sign and size a capture can hold), drawn
from a small pool of addresses most of the time so that facts meet in the same conversations
and the rules that join them fire.
"""

from __future__ import annotations

import io
import json

from hypothesis import strategies as st

from netwhy.dissect.facts import (
    ArpMessage,
    Fact,
    IcmpMessage,
    QuotedDatagram,
    TcpControl,
    UdpConversation,
    UdpFirst,
)
from netwhy.expert.analyze import diagnose
from netwhy.expert.observations import observe
from netwhy.expert.report import Report
from netwhy.kb import KnowledgeBase
from netwhy.render import json_report, terminal

POOL = ("192.0.2.10", "192.0.2.20", "192.0.2.1", "203.0.113.1", "198.51.100.20", "0.0.0.0",
        "255.255.255.255", "224.0.0.251", "192.0.2.255", "10.0.0.1")
MACS = ("02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03", "ff:ff:ff:ff:ff:ff",
        "00:00:00:00:00:00")
ICMP_TYPES = (0, 3, 4, 5, 8, 11, 12, 13, 14, 17, 18)

addresses = st.one_of(st.sampled_from(POOL), st.ip_addresses(v=4).map(str))
macs = st.one_of(st.sampled_from(MACS), st.binary(min_size=6, max_size=6).map(
    lambda raw: ":".join(f"{byte:02x}" for byte in raw)))
octets = st.integers(0, 255)
words = st.integers(0, 65535)
ports = st.one_of(st.sampled_from((0, 7, 53, 161, 443, 33434, 65535)), words)
frames = st.integers(1, 2**32 - 1)
# Relative times: mostly a few seconds, sometimes anything from a clock set back to one that
# counts in whole seconds from 2^64 (a pcapng interface with an odd time unit).
times = st.one_of(st.floats(0, 10), st.floats(-5e9, 2e19, allow_nan=False))
counts = st.integers(0, 10**7)


def _optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


quoted = st.builds(
    QuotedDatagram, src=addresses, dst=addresses, proto=st.sampled_from((1, 6, 17, 0, 255)),
    ttl=_optional(octets), df=_optional(st.booleans()), ip_id=_optional(words),
    sport=_optional(ports), dport=_optional(ports), icmp_type=_optional(octets),
    icmp_ident=_optional(words),
)
icmp = st.builds(
    IcmpMessage, frame=frames, time=times, src=addresses, dst=addresses, ttl=_optional(octets),
    type=st.one_of(st.sampled_from(ICMP_TYPES), octets), code=st.one_of(st.integers(0, 15), octets),
    quoted=_optional(quoted), mtu=_optional(words), gateway=_optional(addresses),
    pointer=_optional(octets), ident=_optional(words), seq=_optional(words),
    address_mask=_optional(addresses), src_mac=_optional(macs), ip_id=_optional(words),
    dst_mac=_optional(macs),
)
arp = st.builds(
    ArpMessage, frame=frames, time=times, opcode=st.one_of(st.sampled_from((1, 2)), words),
    sender_mac=st.one_of(macs, st.just("")), sender_ip=addresses,
    target_mac=st.one_of(macs, st.just("")), target_ip=addresses, eth_src=_optional(macs),
)
tcp = st.builds(
    TcpControl, frame=frames, time=times, src=addresses, dst=addresses, sport=ports, dport=ports,
    syn=st.booleans(), ack=st.booleans(), rst=st.booleans(), ttl=_optional(octets),
    ip_id=_optional(words), src_mac=_optional(macs), dst_mac=_optional(macs),
)
udp_first = st.builds(
    UdpFirst, frame=frames, time=times, src=addresses, dst=addresses, sport=ports, dport=ports,
    src_mac=_optional(macs), dst_mac=_optional(macs),
)
udp_conversation = st.builds(
    UdpConversation, a=addresses, a_port=ports, b=addresses, b_port=ports,
    frames_a_to_b=counts, frames_b_to_a=counts, start=st.floats(0, 2e19),
    duration=st.floats(0, 2e19),
)


@st.composite
def exchanges(draw: st.DrawFn) -> list[Fact]:
    """A client's datagram and the ICMP error a router or the server sends back about it, so
    that the rules tying errors to conversations have something to tie."""
    client, server, router = draw(addresses), draw(addresses), draw(addresses)
    sport, dport, ident, ttl = draw(ports), draw(ports), draw(words), draw(octets)
    frame, time = draw(st.integers(1, 1000)), draw(st.floats(0, 100))
    proto = draw(st.sampled_from((1, 6, 17)))
    if proto == 6:
        sent: Fact = TcpControl(frame, time, client, server, sport, dport, True, False, False,
                                ttl, ident)
    elif proto == 17:
        sent = UdpFirst(frame, time, client, server, sport, dport)
    else:
        sent = IcmpMessage(frame, time, client, server, ttl, 8, 0, ident=ident, seq=sport,
                           ip_id=ident)
    quote = QuotedDatagram(client, server, proto, draw(_optional(octets)), draw(
        _optional(st.booleans())), ident, *((sport, dport) if proto != 1 else (None, None)),
        icmp_type=8 if proto == 1 else None, icmp_ident=ident if proto == 1 else None)
    reporter = draw(st.sampled_from((router, server)))
    error = IcmpMessage(
        frame + draw(st.integers(1, 5)), time + draw(st.floats(0, 5)), reporter, client,
        draw(_optional(octets)), draw(st.sampled_from((3, 4, 5, 11, 12))),
        draw(st.integers(0, 15)), quoted=quote, mtu=draw(_optional(words)),
        gateway=draw(_optional(addresses)), pointer=draw(_optional(octets)),
        src_mac=draw(_optional(macs)),
    )
    return [sent, error] * draw(st.integers(1, 3))


facts = st.lists(
    st.one_of(icmp, arp, tcp, udp_first, udp_conversation, exchanges().map(tuple)), max_size=40
).map(lambda drawn: [f for item in drawn for f in (item if isinstance(item, tuple) else [item])])


def frames_of(fact: Fact) -> set[int]:
    return {fact.frame} if hasattr(fact, "frame") else set()


def check_pipeline(stream: list[Fact], kb: KnowledgeBase) -> None:
    """observe + diagnose + both renderers; evidence only ever points at frames it was given."""
    seen = observe(iter(stream), arp_window_s=kb.threshold("arp.storm", "window_s"))
    diagnoses = diagnose(seen, kb)
    given = set().union(*(frames_of(fact) for fact in stream))
    for diagnosis in diagnoses:
        assert set(diagnosis.evidence) <= given, (diagnosis.condition, diagnosis.evidence)
    report = Report(capture="hypothesis", tshark_version="4.0.17", packets=len(stream),
                    diagnoses=diagnoses)
    out = io.StringIO()
    terminal.write(report, out, explain_score=True)
    json.loads(json_report.dumps(report))
