"""TCP segments that open, accept or reset a connection."""

from __future__ import annotations

from netwhy.dissect.facts import TcpControl
from netwhy.dissect.fields import COLUMN
from netwhy.dissect.row import Row, address, ip_addresses, number

_SYN, _RST, _ACK = 0x02, 0x04, 0x10


def tcp_from_row(row: Row, frame: int, time: float) -> TcpControl | None:
    flags = number(row, "tcp.flags")
    sport, dport = number(row, "tcp.srcport"), number(row, "tcp.dstport")
    src, dst = ip_addresses(row)
    ipv4 = bool(row[COLUMN["ip.src"]])
    if flags is None or sport is None or dport is None or src is None or dst is None:
        return None
    return TcpControl(
        frame=frame,
        time=time,
        src=src,
        dst=dst,
        sport=sport,
        dport=dport,
        syn=bool(flags & _SYN),
        ack=bool(flags & _ACK),
        rst=bool(flags & _RST),
        ttl=number(row, "ip.ttl", -1) if ipv4 else number(row, "ipv6.hlim", -1),
        ip_id=number(row, "ip.id", -1),
        src_mac=address(row, "eth.src"),
        dst_mac=address(row, "eth.dst"),
    )
