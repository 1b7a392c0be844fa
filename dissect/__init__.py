"""dissect: capture -> typed facts, through pyshark and tshark."""

from netwhy.dissect.capture import CaptureReader, check_capture_file
from netwhy.dissect.facts import (
    ArpMessage,
    CaptureSummary,
    Fact,
    IcmpMessage,
    QuotedDatagram,
    TcpControl,
    UdpConversation,
    UdpFirst,
)

__all__ = [
    "ArpMessage", "CaptureReader", "CaptureSummary", "Fact", "IcmpMessage", "QuotedDatagram",
    "TcpControl", "UdpConversation", "UdpFirst", "check_capture_file",
]
