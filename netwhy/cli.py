"""The `netwhy` command line."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence

from netwhy import __version__, lifetime
from netwhy.errors import BadTarget, ExitCode, NetwhyError, NoPermission, TsharkMissing
from netwhy.expert.diagnosis import SEVERITY_ORDER
from netwhy.text import printable

EXIT_CODES_HELP = "exit status:\n" + "\n".join(
    f"  {code.value:<3} {code.name.lower().replace('_', ' ')}" for code in ExitCode
)


def main(argv: Sequence[str] | None = None) -> int:
    lifetime.start()
    parser = _parser()
    _Parser.words = list(sys.argv[1:] if argv is None else argv)
    # An analysis makes millions of small objects that live until netwhy exits, and CPython
    # would look through all of them for garbage cycles every 700 allocations: with fewer
    # collections a large capture takes a seventh less time, for a few MB more.
    gc.set_threshold(50_000, 10, 10)
    try:
        try:
            arguments = parser.parse_args(argv)
        except SystemExit as done:  # --help, --version, or a usage error
            lifetime.flush_stdout()
            return int(done.code or 0)
        code = arguments.run(arguments)
        lifetime.flush_stdout()
        return code
    except NetwhyError as error:
        if lifetime.received():
            return lifetime.interrupted()
        lifetime.say(f"netwhy: {_one_line(error.message)}")
        return int(error.exit_code)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM (lifetime.Terminated)
        return lifetime.interrupted(interrupt)
    except BrokenPipeError:
        # The reader went away (`netwhy explain x | head`): not an error worth a traceback.
        lifetime.discard_stdout()
        return int(ExitCode.OK)
    except Exception:
        if lifetime.received():  # a library's cleanup failed as the signal unwound it
            return lifetime.interrupted()
        raise


class _Parser(argparse.ArgumentParser):
    """argparse, refusing a command line in one line and a hint (not the usage block)."""

    words: Sequence[str] = ()  # the command line being parsed

    def error(self, message: str):  # type: ignore[override]
        hint = f"`{self.prog} --help` shows the usage"
        if any(w.startswith("-") and ("." in w or "/" in w) for w in self.words if w != "--"):
            hint += "; put -- before a file name that starts with -"
        lifetime.say(f"netwhy: {_one_line(message)} ({hint})")
        sys.exit(ExitCode.USAGE)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="netwhy",
        description="Explains why network conversations failed, from ICMP and ARP evidence "
                    "(IPv4) and ICMPv6 and Neighbor Discovery evidence (IPv6).",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netwhy {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    explain = _command(
        commands,
        "explain",
        help="diagnose a capture: ranked root causes with evidence frames",
        description="Diagnose a pcap/pcapng capture: ranked root causes, each with its "
        "evidence frames, reasoning and remedies.",
    )
    explain.add_argument("capture", help="pcap or pcapng file (never modified)")
    _add_target_options(explain)
    shown = explain.add_mutually_exclusive_group()
    shown.add_argument(
        "--format", choices=("text", "json", "jsonl"), default="text",
        help="text (default), one JSON object, or one JSON object per diagnosis per line",
    )
    shown.add_argument("--json", action="store_const", const="json", dest="format",
                       help="same as --format json")
    shown.add_argument("--summary", action="store_true",
                       help="counts by severity and condition, like tshark -z expert")
    shown.add_argument("--filter", action="store_true",
                       help="print a Wireshark display filter selecting every evidence frame")
    explain.add_argument(
        "--explain-score", action="store_true", help="show the terms behind every score"
    )
    explain.add_argument(
        "--fail-on", choices=list(SEVERITY_ORDER), metavar="SEVERITY",
        help="exit 1 if a finding is at or above SEVERITY (error, warning, note, chat)",
    )
    explain.set_defaults(run=_run_explain)

    why = _command(
        commands,
        "why",
        help="why did a conversation fail: each attempt, its outcome, competing explanations",
        description="For each conversation to TARGET (HOST, HOST:PORT, HOST:PORT/udp, or a "
        "Wireshark display filter): its outcome and, for a failure, the competing "
        "explanations with the evidence for and against each. Without TARGET: the failed "
        "conversations of the capture, worst first.",
    )
    why.add_argument("capture", help="pcap or pcapng file (never modified)")
    why.add_argument("target", nargs="?", default="",
                     help="HOST, HOST:PORT, HOST:PORT/tcp|udp (IPv6: [HOST]:PORT), or a display "
                          "filter")
    why.add_argument("--json", action="store_true", help="print one JSON object")
    why.add_argument("--explain-score", action="store_true",
                     help="show the terms behind every score")
    why.add_argument("--ladder", action=argparse.BooleanOptionalAction, default=None,
                     help="draw each failure's evidence frames as a ladder diagram (default: "
                     "when the output is a terminal wide enough for it)")
    why.set_defaults(run=_run_why)

    lab = _command(
        commands,
        "lab",
        help="reproduce every condition in network namespaces, and check netwhy on each",
        description="Scenarios build small networks in Linux network namespaces (client, "
        "routers, servers), make the condition with the real kernel (scapy only for messages "
        "no kernel sends) and capture it. They never touch the host's own interfaces, routes "
        "or firewall, tear everything down even on failure or Ctrl-C, and need root.",
    )
    lab_commands = lab.add_subparsers(dest="lab_command", required=True, metavar="COMMAND")
    lab_commands.add_parser("list", help="list the scenarios").set_defaults(run=_run_lab_list)
    lab_run = lab_commands.add_parser("run", help="run one scenario and save its capture")
    lab_run.add_argument("scenario")
    lab_run.add_argument("-o", "--output", help="capture to write (default: SCENARIO.pcapng)")
    lab_run.set_defaults(run=_run_lab_run)
    lab_verify = lab_commands.add_parser(
        "verify", help="run every scenario, explain it, and check the expected diagnosis")
    lab_verify.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                            help="only these (default: all)")
    lab_verify.set_defaults(run=_run_lab_verify)

    annotate = _command(
        commands,
        "annotate",
        help="write a copy of the capture with the findings as packet comments",
        description="Write OUTPUT (pcapng): a copy of CAPTURE in which every evidence frame "
        "carries a packet comment per diagnosis (condition, summary, likeliest cause) and the "
        "file carries a summary comment. Wireshark shows them in the packet list and in "
        "Expert Info; tshark reads them as frame.comment. The input is never modified.",
    )
    annotate.add_argument("capture", help="pcap or pcapng file (never modified)")
    annotate.add_argument("output", help="the annotated copy to write (pcapng)")
    _add_target_options(annotate)
    annotate.set_defaults(run=_run_annotate)

    watch = _command(
        commands,
        "watch",
        help="watch an interface and explain failures as they happen",
        description="Capture live on IFACE (through dumpcap, as Wireshark does) and print each "
        "diagnosis as soon as the evidence makes it certain, with the same rules and knowledge "
        "base as `explain`; a final report follows on Ctrl-C or after --duration. Needs "
        "permission to capture: root, dumpcap's capabilities, or the wireshark group. UDP "
        "services that never answer are judged in the final report, when tshark's counts of "
        "every datagram arrive.",
    )
    watch.add_argument("-i", "--interface", required=True, metavar="IFACE",
                       help="interface to capture on")
    watch.add_argument("-f", "--capture-filter", metavar="FILTER",
                       help="capture (BPF) filter, e.g. 'host 192.0.2.10'")
    watch.add_argument("--duration", type=_seconds, metavar="S",
                       help="stop after S seconds (default: until Ctrl-C)")
    watched = watch.add_mutually_exclusive_group()
    watched.add_argument("--format", choices=("text", "json", "jsonl"), default="text",
                         help="text (default); json: only the final report; jsonl: an event "
                         "per diagnosis as it comes, then the report on one line")
    watched.add_argument("--json", dest="format", action="store_const", const="json",
                         help="same as --format json")
    watch.add_argument("--write", metavar="OUT.pcapng",
                       help="also keep the traffic in a ring buffer OUT_NNNNN_TIME.pcapng")
    watch.add_argument("--ring-files", type=_positive, default=10, metavar="N",
                       help="ring buffer: files kept (default 10)")
    watch.add_argument("--ring-size", type=_positive, default=100, metavar="MB",
                       help="ring buffer: megabytes per file (default 100)")
    watch.set_defaults(run=_run_watch)

    report = _command(
        commands,
        "report",
        help="render a capture's findings as an HTML site (Sphinx)",
        description="Write OUTDIR: an HTML site about CAPTURE with an overview (capture facts, "
        "diagnoses by severity, conversations) and a page per diagnosis (evidence frames, "
        "ranked causes with their score terms, remedies), linked to the knowledge-base pages "
        "it carries along. OUTDIR must be new, empty, or an earlier netwhy site; it is "
        "replaced only once the new site is complete. Open OUTDIR/index.html.",
    )
    report.add_argument("capture", help="pcap or pcapng file (never modified)")
    report.add_argument("outdir", help="directory to write the site to")
    report.set_defaults(run=_run_report)

    docs = _command(
        commands,
        "docs",
        help="build the documentation and knowledge-base site",
        description="Build netwhy's documentation site from the checkout's docs/ folder; the "
        "knowledge-base pages are generated from kb/, the rules and the test captures.",
    )
    docs_commands = docs.add_subparsers(dest="docs_command", required=True, metavar="COMMAND")
    docs_build = docs_commands.add_parser(
        "build", help="build the site into OUTDIR (warnings are errors)",
        description="Build the site into OUTDIR, as `sphinx-build docs OUTDIR` would, with "
        "warnings as errors. OUTDIR must be new, empty, or an earlier netwhy site; it is "
        "replaced only once the new site is complete.")
    docs_build.add_argument("outdir", help="directory to write the site to")
    docs_build.set_defaults(run=_run_docs_build)
    return parser


def _command(commands, name: str, **options) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with the exit statuses."""
    return commands.add_parser(
        name, epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
        **options,
    )


def _add_target_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--host", type=_address,
                         help="only findings about this IPv4 or IPv6 host")
    command.add_argument("--port", type=_port, help="only findings about this port")


def _run_explain(arguments: argparse.Namespace) -> int:
    # Imported here so that `netwhy --help` stays instant.
    from netwhy.render import json_report, summary, terminal

    report = _analysed(arguments)
    if arguments.summary:
        summary.write(report, sys.stdout)
    elif arguments.filter:
        print(json_report.display_filter(report))
    elif arguments.format == "json":
        json_report.write(report, sys.stdout)
    elif arguments.format == "jsonl":
        for line in json_report.lines(report):
            print(line)
    else:
        terminal.write(report, sys.stdout, explain_score=arguments.explain_score,
                       color=sys.stdout.isatty())
    if report.truncated:  # an incomplete analysis outranks its findings
        return _truncated(arguments.capture, report.truncated, "analysed")
    if arguments.fail_on is not None:
        floor = SEVERITY_ORDER[arguments.fail_on]
        if any(SEVERITY_ORDER[d.severity] >= floor for d in report.diagnoses):
            return ExitCode.FINDINGS
    return ExitCode.OK


def _run_why(arguments: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from netwhy.dissect.tshark import tshark_path_and_version
    from netwhy.expert.analyze import analyze
    from netwhy.render import why
    from netwhy.target import parse_target

    report = analyze(arguments.capture)
    if arguments.target:
        tshark = tshark_path_and_version()[0]
        target = parse_target(arguments.target, Path(arguments.capture), tshark)
        found = [v for v in report.conversations if target.matches(v)]
    else:
        found = [v for v in report.conversations if v.failed]
    if arguments.json:
        print(json.dumps({
            "capture": report.capture, "target": arguments.target, "packets": report.packets,
            "truncated": report.truncated, "unanalysed": report.unanalysed,
            "notes": report.notes,
            "conversations": [
                {**v.to_dict(), "diagnoses": [d.to_dict() for d in v.diagnoses]} for v in found
            ],
        }, indent=2, ensure_ascii=True))
    else:
        wanted = sys.stdout.isatty() if arguments.ladder is None else arguments.ladder
        why.write(report.capture, arguments.target, found, sys.stdout,
                  explain_score=arguments.explain_score, notes=report.notes,
                  ladders=_text_ladders(Path(arguments.capture), found) if wanted else None)
    if report.truncated:
        return _truncated(arguments.capture, report.truncated, "analysed")
    return ExitCode.OK


def _text_ladders(capture, found) -> dict[int, list[str]]:
    """By id() of each failed conversation, its best explanation's evidence as text, when it
    fits the terminal (or COLUMNS, or 80 columns); one tshark pass reads the frames' rows."""
    import shutil

    from netwhy.dissect.tshark import tshark_path_and_version
    from netwhy.render import ladder, ladder_text
    from netwhy.site.frames import frame_rows

    best = {id(v): v.diagnoses[0] for v in found if v.failed and v.diagnoses}
    if not best:
        return {}
    tshark, version = tshark_path_and_version()
    rows = frame_rows(capture, {n for d in best.values() for n in ladder.frames_wanted(d)},
                      tshark, version)
    width = shutil.get_terminal_size().columns - 2  # why indents the ladder by two
    drawn = {key: ladder.ladder(d, rows) for key, d in best.items()}
    return {key: ladder_text.lines(one, width) for key, one in drawn.items() if one is not None}


def _run_lab_list(arguments: argparse.Namespace) -> int:
    from netwhy.lab.catalog import SCENARIOS

    for scenario in SCENARIOS.values():
        conditions = ", ".join(scenario.conditions) or (
            "(no condition; a note on what is not analysed)" if scenario.notes
            else "(clean: no condition)")
        print(f"{scenario.name:<30} {scenario.made_by:<6} {conditions}")
        print(f"{'':<30} {scenario.description}")
    return ExitCode.OK


def _run_lab_run(arguments: argparse.Namespace) -> int:
    from pathlib import Path

    scenario = _lab_scenario(arguments.scenario)
    _lab_needs_root(scenario.made_by)
    output = Path(arguments.output or f"{scenario.name}.pcapng")
    for written in scenario.run(output):
        print(written)
    return ExitCode.OK


def _run_lab_verify(arguments: argparse.Namespace) -> int:
    from netwhy.lab.catalog import SCENARIOS
    from netwhy.lab.verify import verify

    names = arguments.scenarios or list(SCENARIOS)
    for name in names:
        _lab_scenario(name)
    _lab_needs_root("kernel")
    rows = verify(names, sys.stdout)
    return ExitCode.OK if all(row.passed for row in rows) else ExitCode.FINDINGS


def _lab_scenario(name: str):
    from netwhy.lab.catalog import SCENARIOS

    if name not in SCENARIOS:
        raise BadTarget(f"no scenario {name!r}; `netwhy lab list` shows them")
    return SCENARIOS[name]


def _lab_needs_root(made_by: str) -> None:
    import shutil

    if made_by == "kernel" and os.geteuid() != 0:
        raise NoPermission("the lab needs root: it builds network namespaces and captures in them")
    if made_by == "kernel" and shutil.which("dumpcap") is None:
        raise TsharkMissing("dumpcap not found: it comes with tshark (apt-get install tshark)")


def _run_annotate(arguments: argparse.Namespace) -> int:
    from pathlib import Path

    from netwhy.dissect.tshark import tshark_path_and_version
    from netwhy.render.annotate import annotate, find_editcap

    report = _analysed(arguments)
    editcap = find_editcap(tshark_path_and_version()[0])
    done = annotate(report, Path(arguments.capture), Path(arguments.output), editcap)
    print(f"{_one_line(str(done.output))}: {done.comments} comments on {done.frames} frames, "
          f"{len(report.diagnoses)} diagnoses")
    if done.unplaced:
        print(f"{done.unplaced} comments not written: their frames are pcapng simple packet "
              "blocks, which cannot hold a comment")
    if report.truncated:
        return _truncated(arguments.capture, report.truncated, "analysed and copied")
    return ExitCode.OK


def _run_watch(arguments: argparse.Namespace) -> int:
    from pathlib import Path

    from netwhy.watch import watch

    watch(arguments.interface, arguments.capture_filter, arguments.duration, arguments.format,
          Path(arguments.write) if arguments.write else None, arguments.ring_files,
          arguments.ring_size)
    return ExitCode.OK


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _run_report(arguments: argparse.Namespace) -> int:
    from pathlib import Path

    from netwhy.site.report import make_report

    report, site = make_report(Path(arguments.capture), Path(arguments.outdir))
    print(f"{_one_line(str(site.output / 'index.html'))}: {site.diagnoses} diagnoses, "
          f"{site.pages} pages")
    if report.truncated:
        return _truncated(arguments.capture, report.truncated, "analysed")
    return ExitCode.OK


def _run_docs_build(arguments: argparse.Namespace) -> int:
    from pathlib import Path

    from netwhy.site.build import build_site, docs_source

    source = docs_source()
    build_site(source, Path(arguments.outdir))
    print(_one_line(str(Path(arguments.outdir) / "index.html")))
    return ExitCode.OK


def _analysed(arguments: argparse.Namespace):
    """The capture's report, keeping only the diagnoses about --host and --port."""
    from netwhy.expert.analyze import analyze

    report = analyze(arguments.capture)
    report.diagnoses = [
        d for d in report.diagnoses
        if _concerns(d.subject, d.reporter, arguments.host, arguments.port)
    ]
    gc.freeze()  # the report lives until netwhy exits: rendering it need not rescan it
    return report


def _concerns(subject, reporter: str, host: str | None, port: int | None) -> bool:
    if host is not None and not (subject.concerns(host) or host == reporter):
        return False
    return port is None or port in (subject.sport, subject.dport)


def _address(text: str) -> str:
    from netwhy.target import ip_address_text

    try:
        return ip_address_text(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from error


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return int(text)


def _truncated(capture: str, damage: str, done: str) -> int:
    """Say on stderr that the capture was damaged and how far netwhy got; the exit status."""
    print(f"netwhy: {_one_line(capture)}: {_one_line(damage)}; {done} up to the damage",
          file=sys.stderr)
    return ExitCode.TRUNCATED


def _one_line(text: str) -> str:
    # Names and tshark's words, escaped: nothing in them may steer the terminal or fail to encode.
    return printable(" ".join(text.split()))
