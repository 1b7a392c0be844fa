"""Small socket clients and servers that scenarios run inside namespaces.

Run by file path (``python traffic.py COMMAND ...``) under ``ip netns exec``, so it needs
nothing but the standard library. Every command prints one line per event and flushes,
so the lab can wait for "ready" and read outcomes from the pipe.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time

# From <linux/in.h>; Python's socket module does not export them.
IP_MTU_DISCOVER = 10
IP_PMTUDISC_DO = 2  # always set DF, never fragment locally
IPOPT_SSRR = 137
# What Linux traceroute puts in its UDP probes: 32 bytes counting up from "@".
TRACEROUTE_PAYLOAD = bytes(range(0x40, 0x60))


def say(text: str) -> None:
    print(text, flush=True)


def udp_client(args: argparse.Namespace) -> None:
    """Send one datagram per hex line on stdin from one connected socket; report each outcome."""
    sock = socket.socket(socket.AF_INET6 if ":" in args.dst else socket.AF_INET,
                         socket.SOCK_DGRAM)
    if args.df:
        sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    if args.ssrr:
        # Strict source route through one hop; the kernel appends the destination itself.
        option = bytes([IPOPT_SSRR, 7, 4]) + socket.inet_aton(args.ssrr) + b"\x00"
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, option)
    else:
        # Connected, so ICMP port unreachable comes back as ECONNREFUSED.
        sock.connect((args.dst, args.port))
    sock.settimeout(args.wait)
    for line in sys.stdin:
        try:
            sock.sendto(bytes.fromhex(line.strip()), (args.dst, args.port))
            reply = sock.recv(65535)
            say(f"reply {len(reply)} bytes")
        except TimeoutError:
            say("no reply")
        except OSError as err:
            say(f"error {err.strerror}")


def udp_echo(args: argparse.Namespace) -> None:
    """Answer each datagram with itself, `--delay` seconds later (a slow server)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", args.port))
    say("ready")
    while True:
        data, peer = sock.recvfrom(65535)
        time.sleep(args.delay)
        sock.sendto(data, peer)


def tcp_server(args: argparse.Namespace) -> None:
    """Accept connections, read until the client closes, answer with what it sent."""
    server = socket.create_server(("0.0.0.0", args.port))
    say("ready")
    while True:
        conn, _ = server.accept()
        with conn:
            data = b""
            while chunk := conn.recv(65535):
                data += chunk
            conn.sendall(data)


def tcp_client(args: argparse.Namespace) -> None:
    try:
        with socket.create_connection((args.dst, args.port), timeout=args.wait) as conn:
            conn.sendall(b"hello\n")
            conn.shutdown(socket.SHUT_WR)
            reply = conn.recv(65535)
            say(f"connected, reply {len(reply)} bytes")
    except TimeoutError:
        say("timeout")
    except OSError as err:
        say(f"error {err.strerror}")


def bulk_server(args: argparse.Namespace) -> None:
    """Answer each request with a short header, then, a moment later, a long body: the way a
    web server answers (the small part passes any path; the full-size segments may not)."""
    server = socket.create_server(("0.0.0.0", args.port))
    say("ready")
    while True:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(args.wait)
            try:
                conn.recv(65535)
                conn.sendall(b"h" * args.head)
                time.sleep(0.3)
                conn.sendall(b"b" * args.body)
                conn.recv(65535)  # until the client closes (or gives up)
            except OSError:
                pass


def bulk_client(args: argparse.Namespace) -> None:
    """Ask, and read until `expect` bytes came or `wait` seconds passed; then close."""
    got = 0
    started = time.monotonic()
    with socket.create_connection((args.dst, args.port), timeout=args.wait) as conn:
        if args.small_buffer:  # a small receive window fills at once
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.sendall(b"GET /\n")
        time.sleep(args.pause)  # not reading: the window closes, the sender probes it
        try:
            while got < args.expect and (chunk := conn.recv(65535)):
                got += len(chunk)
                conn.settimeout(max(0.1, args.wait - (time.monotonic() - started)))
        except TimeoutError:
            pass
    say(f"received {got} of {args.expect} bytes in {time.monotonic() - started:.1f} s")


def raw_send(args: argparse.Namespace) -> None:
    """Send bare IP datagrams with protocol number ``proto``; the kernel writes the IP header."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, args.proto)
    for _ in range(args.count):
        sock.sendto(b"netwhy lab probe", (args.dst, 0))
    say(f"sent {args.count}")


def udp_probes(args: argparse.Namespace) -> None:
    """Traceroute-style UDP probes from one unconnected socket: ``per_ttl`` probes for each
    TTL from 1 to ``max_ttl``, each to the next port up from ``port``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    port = args.port
    for ttl in range(1, args.max_ttl + 1):
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        for _ in range(args.per_ttl):
            # Unconnected: ICMP errors are not turned into send errors on the next probe.
            sock.sendto(TRACEROUTE_PAYLOAD, (args.dst, port))
            say(f"sent ttl {ttl} port {port}")
            port += 1
            time.sleep(args.gap)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("udp-client")
    p.add_argument("dst")
    p.add_argument("port", type=int)
    p.add_argument("--df", action="store_true", help="set Don't Fragment")
    p.add_argument("--ssrr", metavar="HOP", help="strict source route via HOP")
    p.add_argument("--wait", type=float, default=1.0)
    p.set_defaults(func=udp_client)

    p = commands.add_parser("udp-echo")
    p.add_argument("port", type=int)
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    p.set_defaults(func=udp_echo)

    p = commands.add_parser("tcp-server")
    p.add_argument("port", type=int)
    p.set_defaults(func=tcp_server)

    p = commands.add_parser("tcp-client")
    p.add_argument("dst")
    p.add_argument("port", type=int)
    p.add_argument("--wait", type=float, default=5.0)
    p.set_defaults(func=tcp_client)

    p = commands.add_parser("bulk-server")
    p.add_argument("port", type=int)
    p.add_argument("--head", type=int, default=300)
    p.add_argument("--body", type=int, default=60_000)
    p.add_argument("--wait", type=float, default=10.0)
    p.set_defaults(func=bulk_server)

    p = commands.add_parser("bulk-client")
    p.add_argument("dst")
    p.add_argument("port", type=int)
    p.add_argument("--expect", type=int, default=60_300)
    p.add_argument("--wait", type=float, default=7.0)
    p.add_argument("--pause", type=float, default=0.0, help="seconds before reading")
    p.add_argument("--small-buffer", action="store_true")
    p.set_defaults(func=bulk_client)

    p = commands.add_parser("raw-send")
    p.add_argument("dst")
    p.add_argument("proto", type=int)
    p.add_argument("--count", type=int, default=1)
    p.set_defaults(func=raw_send)

    p = commands.add_parser("udp-probes")
    p.add_argument("dst")
    p.add_argument("--port", type=int, default=33434)
    p.add_argument("--max-ttl", type=int, default=3)
    p.add_argument("--per-ttl", type=int, default=2)
    p.add_argument("--gap", type=float, default=0.2)
    p.set_defaults(func=udp_probes)

    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
