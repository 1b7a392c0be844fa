"""The glossary: terms the knowledge base uses, each defined once and linked from every page
whose text uses it."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    name: str  # as the glossary lists it (and :term: links to it)
    definition: str
    pattern: str  # what, in a page's text, counts as a use of the term (case-insensitive)


TERMS: tuple[Term, ...] = (
    Term("ICMP", "Internet Control Message Protocol (RFC 792): the messages IP devices send "
         "each other about delivery problems (errors) and for diagnosis (queries such as echo).",
         r"\bICMP\b"),
    Term("ICMP error", "An ICMP message that reports a datagram could not be delivered or "
         "processed: destination unreachable, time exceeded, parameter problem, redirect, source "
         "quench. It carries the start of the offending datagram (the quoted datagram).",
         r"\b(ICMP )?errors?\b|\bunreachable\b"),
    Term("quoted datagram", "The IP header and at least the first eight bytes of the datagram "
         "that provoked an ICMP error, copied into the error. It tells who sent what to whom, so "
         "netwhy can tie the error to the conversation it ended.",
         r"\bquot(ed|es|e)\b"),
    Term("subject", "What a diagnosis is about: the client, the destination, and for a service "
         "its protocol and port. Reports say it as client -> destination proto/port.",
         r"\bsubject\b"),
    Term("reporter", "The device whose message (an ICMP error, an ARP reply) a diagnosis rests "
         "on. It may be the destination itself or a router on the path.",
         r"\breport(er|ed by)\b"),
    Term("sender", "Who normally sends a condition's message: a router on the path, the "
         "destination host, or either. A message from the wrong kind of device is suspect.",
         r"\bsend(er|s)\b"),
    Term("router", "A device that forwards datagrams between networks. Routers send the ICMP "
         "errors about the path: network or host unreachable, time exceeded, redirect.",
         r"\brouters?\b|\bgateways?\b"),
    Term("host", "An end system: a client or a server. A destination host sends the errors only "
         "it can know about, such as port or protocol unreachable.",
         r"\bhosts?\b"),
    Term("evidence frame", "A frame number in the capture that a diagnosis rests on. Open them in "
         "Wireshark with the display filter frame.number in {...}.",
         r"\bframes?\b|\bevidence\b"),
    Term("condition", "One entry of the knowledge base: a situation netwhy can diagnose, with its "
         "meaning, causes, remedies and references. Its id is public and stable.",
         r"\bconditions?\b"),
    Term("cause", "A possible reason behind a condition, with a prior, the checks that confirm "
         "it, and the evidence that changes its odds.",
         r"\bcauses?\b"),
    Term("prior", "How often a cause is behind its condition before the capture is consulted: "
         "the starting weight of the cause.",
         r"\bpriors?\b"),
    Term("likelihood ratio", "A factor that multiplies a cause's weight when a piece of evidence "
         "matches (a when clause). Above 1 the evidence favours the cause, below 1 it argues "
         "against it.",
         r"\blikelihood\b|\bfactor\b|\bodds\b"),
    Term("score", "How confident netwhy is that a diagnosis explains a failure: the condition's "
         "base plus the weight of every evidence term, clamped to 0..1.",
         r"\bscores?\b"),
    Term("severity", "error, warning, note or chat, as in Wireshark's expert information: how "
         "much a finding matters to someone chasing a failure.",
         r"\bseverity\b"),
    Term("scope", "What one diagnosis covers: a destination host, one service on it, the path "
         "between two hosts, or one station.",
         r"\bscope\b"),
    Term("ARP", "Address Resolution Protocol (RFC 826): how a station on an Ethernet segment "
         "learns the MAC address that belongs to an IPv4 address on the same segment.",
         r"\bARP(ed|s)?\b"),
    Term("proxy ARP", "A router answering ARP requests for addresses that are not its own, so "
         "stations with a too-wide subnet mask still reach other networks (RFC 1027).",
         r"\bproxy\b"),
    Term("gratuitous ARP", "An ARP packet a station sends about its own address, unasked: to "
         "announce it, update neighbours' caches, or probe for conflicts (RFC 5227).",
         r"\bgratuitous\b|\bannounce"),
    Term("subnet mask", "The part of an IPv4 address that names its network. A station uses it "
         "to decide whether a destination is on its wire (ARP for it) or behind a gateway.",
         r"\b(subnet|mask)\b"),
    Term("MTU", "Maximum transmission unit: the largest datagram a link carries without "
         "fragmenting it. The path MTU is the smallest MTU along the way.",
         r"\bMTU\b"),
    Term("Don't Fragment", "The DF bit in the IPv4 header: routers must not fragment the "
         "datagram; if it is too big they drop it and send fragmentation needed.",
         r"\bDF\b|\bdon't fragment\b|\bfragment"),
    Term("path MTU discovery", "Sending with Don't Fragment set and lowering the size when a "
         "router reports fragmentation needed with its next-hop MTU (RFC 1191).",
         r"\bpath MTU\b|\bPMTU"),
    Term("TTL", "Time to live: the hop count in the IPv4 header. Each router lowers it by one and "
         "drops the datagram at zero, sending time exceeded back.",
         r"\bTTL\b|\btime to live\b"),
    Term("traceroute", "A tool that sends probes with TTL 1, 2, 3 and so on, and learns the path "
         "from the time-exceeded messages routers send back.",
         r"\btraceroute\b"),
    Term("redirect", "An ICMP message from a router telling a station on the same segment to "
         "send traffic for a destination to a better first-hop gateway.",
         r"\bredirect"),
    Term("first hop", "The router a station hands its datagrams to: its default gateway or the "
         "gateway its routing table names for the destination.",
         r"\bfirst hop\b|\bdefault gateway\b"),
    Term("firewall", "A device or host filter that drops or rejects traffic by rule. A reject "
         "answers with an ICMP error or a TCP reset; a drop answers with nothing.",
         r"\bfirewalls?\b|\bfilter(ed|s)?\b|\breject"),
    Term("TCP reset", "A TCP segment with the RST flag: the end of a connection, or the answer "
         "to a SYN for a port nobody listens on.",
         r"\breset\b|\bRST\b"),
    Term("conversation", "A client's attempts at one service (a protocol and port) or one host "
         "(ping), with the replies and errors they drew.",
         r"\bconversations?\b"),
    Term("lab scenario", "A small network that netwhy builds in Linux network namespaces to make "
         "a condition happen with the real kernel, and capture it: netwhy lab run NAME.",
         r"\bscenario\b|\blab\b"),
)


def terms_used(text: str) -> list[Term]:
    """The glossary terms a text uses, in glossary order."""
    return [term for term in TERMS if re.search(term.pattern, text, re.IGNORECASE)]
