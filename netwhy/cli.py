"""The `netwhy` command line."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Sequence

from netwhy import __version__
from netwhy.errors import ExitCode, NetwhyError
from netwhy.expert.diagnosis import SEVERITY_ORDER

EXIT_CODES_HELP = "exit status:\n" + "\n".join(
    f"  {code.value:<3} {code.name.lower().replace('_', ' ')}" for code in ExitCode
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.run(arguments)
    except NetwhyError as error:
        print(f"netwhy: {_one_line(error.message)}", file=sys.stderr)
        return int(error.exit_code)
    except KeyboardInterrupt:
        print("netwhy: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`netwhy explain x | head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.OK)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netwhy",
        description="Explains why network conversations failed, from ICMP and ARP evidence.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netwhy {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    explain = commands.add_parser(
        "explain",
        help="diagnose a capture: ranked root causes with evidence frames",
        description="Diagnose a pcap/pcapng capture: ranked root causes, each with its "
        "evidence frames, reasoning and remedies.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument("capture", help="pcap or pcapng file (never modified)")
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    explain.add_argument("--host", type=_address, help="only conversations with this IPv4 host")
    explain.add_argument("--port", type=_port, help="only conversations to or from this port")
    explain.add_argument(
        "--explain-score", action="store_true", help="show the terms behind every score"
    )
    explain.add_argument(
        "--fail-on", choices=list(SEVERITY_ORDER), metavar="SEVERITY",
        help="exit 1 if a finding is at or above SEVERITY (error, warning, note, chat)",
    )
    explain.set_defaults(run=_run_explain)
    return parser


def _run_explain(arguments: argparse.Namespace) -> int:
    # Imported here so that `netwhy --help` stays instant.
    from netwhy.expert.analyze import analyze
    from netwhy.render import json_report, terminal

    report = analyze(arguments.capture)
    report.diagnoses = [
        d for d in report.diagnoses
        if _concerns(d.subject, d.reporter, arguments.host, arguments.port)
    ]
    if arguments.json:
        print(json_report.dumps(report))
    else:
        terminal.write(report, sys.stdout, explain_score=arguments.explain_score,
                       color=sys.stdout.isatty())
    if report.truncated:
        damage = _one_line(report.truncated)
        print(f"netwhy: {arguments.capture}: {damage}; analysed up to the damage", file=sys.stderr)
    if report.truncated:  # an incomplete analysis outranks its findings
        return ExitCode.TRUNCATED
    if arguments.fail_on is not None:
        floor = SEVERITY_ORDER[arguments.fail_on]
        if any(SEVERITY_ORDER[d.severity] >= floor for d in report.diagnoses):
            return ExitCode.FINDINGS
    return ExitCode.OK


def _concerns(subject, reporter: str, host: str | None, port: int | None) -> bool:
    if host is not None and host not in (subject.src, subject.dst, reporter):
        return False
    return port is None or port in (subject.sport, subject.dport)


def _address(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an IPv4 address: {text!r}") from error


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return int(text)


def _one_line(text: str) -> str:
    return " ".join(text.split())
