"""reST for the knowledge base, generated from kb/ every build: one page per condition (meaning,
sender, causes with priors, checks and odds, remedies, references, the rules that detect it, an
evidence excerpt, how to reproduce it), plus the index pages of kbindexes."""

from __future__ import annotations

from collections.abc import Sequence

from netwhy.expert.registry import Rule, rules_for
from netwhy.kb import Condition
from netwhy.site import rst
from netwhy.site.glossary import terms_used
from netwhy.site.kbindexes import index_pages
from netwhy.site.kbinputs import SYMPTOMS, KbInputs, cause_label
from netwhy.site.theme import badge


def kb_pages(inputs: KbInputs) -> dict[str, str]:
    """{document name: reST} for every knowledge-base page (a report's: its conditions' pages,
    an index of them and the glossary)."""
    pages = {f"kb/{c.id}": condition_page(c, inputs)
             for c in inputs.kb.conditions.values() if inputs.has_page(c.id)}
    return pages | index_pages(inputs)


def condition_page(c: Condition, inputs: KbInputs) -> str:
    out = [f".. _kb-{c.id}:\n", rst.heading(c.title), _facts(c, inputs)]
    out += [rst.heading("Meaning", "-"), rst.text(c.meaning) + "\n"]
    if c.proves:
        out += [rst.heading("What it proves", "-"), rst.bullets(rst.text(p) for p in c.proves)]
    out += [rst.heading("Causes", "-"), _causes_table(c)]
    for cause in c.causes:
        out.append(f".. _{cause_label(c.id, cause.id)}:\n")
        out.append(rst.heading(f"{cause.id} (prior {cause.prior:g})", "~"))
        out.append(rst.text(cause.text) + "\n")
        out.append(":term:`Checks <cause>`:\n\n" + rst.bullets(rst.text(x) for x in cause.checks))
        if cause.when:
            out.append(":term:`Evidence that shifts the odds <likelihood ratio>`:\n\n")
            out.append(rst.bullets(
                f"{rst.code(_test(rule))} {rst.text(f'x{rule.factor:g}: {rule.reason}')}"
                for rule in cause.when
            ))
    out += [rst.heading("Remedies", "-"), rst.bullets(_remedy(c, r) for r in c.remedies)]
    if c.falsepositives:
        out += [rst.heading("Benign look-alikes", "-"),
                rst.bullets(rst.text(x) for x in c.falsepositives)]
    if c.thresholds:
        out += [rst.heading("Thresholds", "-"), rst.list_table(
            ["Name", "Value", "Why"],
            [[rst.text(name), rst.text(_value(t.value)), rst.text(t.reason)]
             for name, t in c.thresholds.items()], widths=[20, 15, 65])]
    if c.related:
        out += [rst.heading("Related conditions", "-"), rst.bullets(
            f"{inputs.link(other)} (``{other}``)" for other in c.related)]
    out += [rst.heading("References", "-"), rst.bullets(_reference(r) for r in c.references)]
    detecting = rules_for(c.id, icmp_matched=c.icmp_type is not None)
    out += [rst.heading("Rules that detect it", "-"), _rules_table(detecting)]
    out += _evidence(c, inputs)
    out += _reproduce(c, inputs)
    used = terms_used(" ".join([c.meaning, *c.proves, *(x.text for x in c.causes)]))
    out += [rst.heading("Terms on this page", "-"),
            ", ".join(f":term:`{term.name}`" for term in used) + "\n"]
    return "\n".join(out)


def _facts(c: Condition, inputs: KbInputs) -> str:
    kb, full = inputs.kb, inputs.only is None  # a report has no symptom or sender indexes
    if c.icmp_type is None:
        icmp = "derived by rules from several messages, not one ICMP type"
    else:
        name = kb.type_names(c.icmp_family).get(c.icmp_type)
        icmp = "ICMPv6 " if c.icmp_family == 6 else ""
        icmp += f"type {c.icmp_type}" + (f" ({name.name})" if name else "")
        icmp += f", code {c.icmp_code}" if c.icmp_code is not None else ", any code"
    symptoms = ", ".join(
        f":ref:`{SYMPTOMS[s]} <kb-symptoms-{s}>`" if full else rst.text(SYMPTOMS[s])
        for s in c.symptoms)
    sender = f":ref:`{c.sender} <kb-sender-{c.sender}>`" if full else c.sender
    lines = [
        (":Condition:", f"``{c.id}``"),
        (":Severity:", f"{badge(c.severity)} ({_what('severity')})"),
        (":Status:", c.status),
        (":Group:", c.group),
        (":ICMP:", rst.text(icmp)),
        (":Sender:", f"{sender} ({_what('sender')})"),
        (":Scope:", f"{c.scope} ({_what('scope')})"),
        (":Symptoms:", symptoms),
        (":Base score:", f"{c.base_score:g} ({_what('score')}): {rst.text(c.base_reason)}"),
    ]
    return "\n".join(f"{name} {value}" for name, value in lines) + "\n"


def _what(term: str) -> str:
    return f":term:`what is this? <{term}>`"


def _causes_table(c: Condition) -> str:
    return rst.list_table(
        [":term:`Prior <prior>`", "Cause", "Checks"],
        [[f"{cause.prior:g}",
          f":ref:`{cause.id} <{cause_label(c.id, cause.id)}>`: {rst.text(cause.text)}",
          str(len(cause.checks))] for cause in sorted(c.causes, key=lambda x: -x.prior)],
        widths=[10, 80, 10],
    )


def _test(rule) -> str:
    if rule.one_of is not None:
        return f"{rule.feature} in {list(rule.one_of)}"
    if rule.at_least is not None:
        return f"{rule.feature} >= {rule.at_least:g}"
    return f"{rule.feature} = {rule.equals}"


def _remedy(c: Condition, remedy) -> str:
    if not remedy.causes:
        return rst.text(remedy.text) + " (whatever the cause)"
    links = ", ".join(f":ref:`{cause} <{cause_label(c.id, cause)}>`" for cause in remedy.causes)
    return f"{rst.text(remedy.text)} (for {links})"


def _value(value) -> str:
    """A threshold: a number, a list of them (ports), or a list of such lists (port groups)."""
    if isinstance(value, tuple | list):
        nested = any(isinstance(v, tuple | list) for v in value)
        return ("; " if nested else ", ").join(_value(v) for v in value)
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _reference(ref) -> str:
    url = ref.url + (f"#section-{ref.section}" if ref.section else "")
    where = f"RFC {ref.rfc}" + (f" section {ref.section}" if ref.section else "")
    return f"`{where} <{url}>`__: {rst.text(ref.note)}"


def _rules_table(rules: Sequence[Rule]) -> str:
    if not rules:
        return "No registered rule serves this condition.\n"
    return rst.list_table(
        ["Rule", "What it does"],
        [[f"``{rule.id}``", rst.text(rule.summary)] for rule in rules], widths=[30, 70])


def _evidence(c: Condition, inputs: KbInputs) -> list[str]:
    if inputs.excerpts is None:
        return []
    out = [rst.heading("Evidence from a test capture", "-")]
    excerpt = inputs.excerpts.get(c.id)
    if excerpt is None or excerpt.problem:
        why = excerpt.problem if excerpt else "no scenario capture"
        return [*out, rst.text(f"No excerpt: {why}.") + "\n"]
    shown = len(excerpt.lines)
    more = f", the first {shown} shown" if shown < len(excerpt.evidence) else ""
    out.append(
        f"netwhy's diagnosis of ``tests/captures/{excerpt.capture}`` "
        f"({len(excerpt.evidence)} evidence frames{more}):\n\n"
        f".. rst-class:: kb-summary\n\n{rst.text(excerpt.summary)}\n"
    )
    out.append(rst.literal(excerpt.lines))
    if excerpt.ladder:
        from netwhy.render.ladder import Ladder
        from netwhy.site.figures import raw_html
        from netwhy.site.ladder_svg import ladder_html  # matplotlib: only for these pages

        out.append(raw_html(ladder_html(Ladder.from_dict(excerpt.ladder))))
    return out


def _reproduce(c: Condition, inputs: KbInputs) -> list[str]:
    if not c.scenario:
        return []
    scenario = inputs.scenarios.get(c.scenario)
    if scenario is None:  # the lab is not installed (it needs scapy): the name is enough
        how = ""
    elif scenario.made_by == "kernel":
        how = (" builds a small network in Linux network namespaces and makes the condition "
               "with the real kernel (as root): " + rst.text(scenario.description))
    else:
        how = (" writes the capture with scapy, since no Linux kernel sends this message: "
               + rst.text(scenario.description))
    return [
        rst.heading("Reproduce it", "-"),
        f"The :term:`lab scenario` ``{c.scenario}``{how}\n",
        rst.literal([f"# netwhy lab run {c.scenario}",
                     f"# netwhy explain {c.scenario}.pcapng"], "console"),
    ]

