"""The knowledge base's index pages: by group, by ICMP type and code, by symptom, by sender,
the rules, and the glossary (and, in a report, an index of the report's conditions)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from netwhy.expert import registry
from netwhy.expert.registry import ANY_ICMP_CONDITION
from netwhy.kb import Condition, KnowledgeBase
from netwhy.site import rst
from netwhy.site.glossary import TERMS
from netwhy.site.kbinputs import INDEX_PAGES, SENDERS, SYMPTOMS, KbInputs, page_name
from netwhy.site.theme import badge


def index_pages(inputs: KbInputs) -> dict[str, str]:
    """{document name: reST} of the index pages."""
    kb = inputs.kb
    if inputs.only is not None:
        return {"kb/index": _partial_index(inputs), "kb/glossary": _glossary()}
    return {
        "kb/index": _index(kb),
        "kb/by-icmp-type": _by_icmp(inputs),
        "kb/by-symptom": _grouped(
            kb, "Conditions by symptom", "symptoms", SYMPTOMS,
            "What the user noticed. A condition can cause several.", lambda c: c.symptoms),
        "kb/by-sender": _grouped(
            kb, "Conditions by sender", "sender", SENDERS,
            "Who normally sends the message the condition rests on.", lambda c: (c.sender,)),
        "kb/rules": _rules(inputs),
        "kb/glossary": _glossary(),
    }


def _index(kb: KnowledgeBase) -> str:
    out = [rst.heading("Knowledge base"),
           f"{len(kb.conditions)} conditions, one YAML file each in ``kb/conditions/``. Browse "
           "them by group below, or by :doc:`ICMP type and code </kb/by-icmp-type>`, "
           ":doc:`symptom </kb/by-symptom>` or :doc:`sender </kb/by-sender>`; the "
           ":doc:`rules </kb/rules>` and the :doc:`glossary </kb/glossary>` explain the "
           "machinery and the words.\n",
           ".. toctree::\n   :hidden:\n\n"
           + "".join(f"   /{page}\n" for page in INDEX_PAGES)]
    groups: dict[str, list[Condition]] = {}
    for condition in kb.conditions.values():
        groups.setdefault(condition.group, []).append(condition)
    for group in sorted(groups):
        out.append(rst.heading(group.capitalize(), "-"))
        out.append(_condition_table(groups[group]))
    out.append(".. toctree::\n   :hidden:\n   :caption: Conditions\n\n"
               + "".join(f"   /{page_name(c)}\n" for c in sorted(kb.conditions)))
    return "\n".join(out)


def _partial_index(inputs: KbInputs) -> str:
    members = [c for c in inputs.kb.conditions.values() if inputs.has_page(c.id)]
    return "\n".join([
        rst.heading("Knowledge base"),
        "The knowledge-base pages of the conditions in this report, and of the conditions "
        "related to them. The whole knowledge base, with indexes by ICMP type, symptom and "
        "sender, is netwhy's documentation site (``netwhy docs build OUTDIR``).\n",
        _condition_table(members),
        ".. toctree::\n   :hidden:\n\n" + "".join(f"   /{page_name(c.id)}\n" for c in members)
        + "   /kb/glossary\n",
    ])


def _condition_table(conditions: Sequence[Condition]) -> str:
    return rst.list_table(
        ["Condition", "Severity", "Id"],
        [[rst.doc("/" + page_name(c.id), c.title), badge(c.severity), f"``{c.id}``"]
         for c in conditions], widths=[50, 15, 35], css_class="kb-conditions")


def _by_icmp(inputs: KbInputs) -> str:
    kb = inputs.kb
    matched = sorted((c for c in kb.conditions.values() if c.icmp_type is not None),
                     key=lambda c: (c.icmp_family, c.icmp_type,
                                    -1 if c.icmp_code is None else c.icmp_code))
    rows = []
    for c in matched:
        name = kb.type_names(c.icmp_family).get(c.icmp_type)
        shown = str(c.icmp_type) if c.icmp_family == 4 else f"v6 {c.icmp_type}"
        rows.append([shown, rst.text(name.name if name else "?"),
                     "any" if c.icmp_code is None else str(c.icmp_code),
                     rst.doc("/" + page_name(c.id), c.title)])
    derived = []
    for c in (c for c in kb.conditions.values() if c.icmp_type is None):
        scenario = inputs.scenarios.get(c.scenario or "")
        seen = sorted(set(scenario.errors)) if scenario else []
        shown = ", ".join(f"{t}/{code}" for t, code in seen) or "none"
        derived.append([rst.doc("/" + page_name(c.id), c.title), c.group, shown])
    types = [[str(number), rst.text(t.name), t.status,
              ", ".join(rst.doc("/" + page_name(c.id), c.title)
                        for c in matched if (c.icmp_family, c.icmp_type) == (4, number)) or "-"]
             for number, t in sorted(kb.icmp_types.items())]
    types6 = [[str(number), rst.text(t.name), t.status,
               ", ".join(rst.doc("/" + page_name(c.id), c.title)
                         for c in matched if (c.icmp_family, c.icmp_type) == (6, number)) or "-"]
              for number, t in sorted(kb.icmp6_types.items())]
    return "\n".join([
        rst.heading("Conditions by ICMP type and code"),
        "An ICMP message with a type and code below is classified as that condition; an exact "
        "code wins over an entry for the whole type. ICMPv6 types (marked v6) are numbered on "
        "their own (RFC 4443).\n",
        rst.list_table(["Type", "Name", "Code", "Condition"], rows, widths=[8, 30, 8, 54]),
        rst.heading("Derived conditions", "-"),
        "These come from rules that weigh several messages (ARP, echo, TCP, repeated errors), "
        "not from one type and code. The last column gives the ICMP errors (type/code) that "
        "the condition's lab capture holds.\n",
        rst.list_table(["Condition", "Group", "ICMP errors in its capture"], derived,
                       widths=[50, 20, 30]),
        rst.heading("Every ICMP type", "-"),
        "IANA's registry of ICMP types, with the entries that match each; the rest are "
        "reported as :doc:`/kb/icmp.unknown-type` when they appear.\n",
        rst.list_table(["Type", "Name", "Status", "Conditions"], types, widths=[8, 40, 14, 38]),
        rst.heading("Every ICMPv6 type", "-"),
        "IANA's registry of ICMPv6 types (0-127 errors, 128-255 informational), with the "
        "entries that match each; the rest are reported as :doc:`/kb/icmp6.unknown-type` "
        "when they appear (Neighbor Discovery's are read by the ndp rules).\n",
        rst.list_table(["Type", "Name", "Status", "Conditions"], types6, widths=[8, 40, 14, 38]),
    ])


def _grouped(kb: KnowledgeBase, title: str, label: str, names: dict[str, str], intro: str,
             values: Callable[[Condition], tuple[str, ...]]) -> str:
    out = [rst.heading(title), intro + "\n"]
    for value, name in names.items():
        members = [c for c in kb.conditions.values() if value in values(c)]
        out.append(f".. _kb-{label}-{value}:\n")
        out.append(rst.heading(name, "-"))
        out.append(_condition_table(members) if members else "None.\n")
    return "\n".join(out)


def _rules(inputs: KbInputs) -> str:
    rows = []
    for rule in inputs.rules:
        if ANY_ICMP_CONDITION in rule.conditions:
            serves = rst.text("every condition matched by ICMP type and code")
        else:
            serves = ", ".join(rst.doc("/" + page_name(c), inputs.kb.conditions[c].title)
                               for c in rule.conditions if c in inputs.kb.conditions)
        rows.append([f"``{rule.id}``", rst.text(rule.summary), serves])
    features = [[f"``{name}``", rst.text(kind), rst.text(meaning)]
                for name, (kind, meaning) in sorted(registry.features().items())]
    return "\n".join([
        rst.heading("Rules"),
        "Every rule of the expert system, from the table of each module in ``expert/rules/`` "
        "(``expert/registry.py`` finds them): its id, what it does, and the conditions it "
        "serves.\n",
        rst.list_table(["Rule", "What it does", "Serves"], rows, widths=[25, 45, 30]),
        rst.heading("Features", "-"),
        "What the rules attach to a finding, as each rule module declares it: a cause's "
        "``when`` clause in the knowledge base tests one of these.\n",
        rst.list_table(["Feature", "Type", "Meaning"], features, widths=[25, 10, 65]),
    ])


def _glossary() -> str:
    out = [rst.heading("Glossary"), ".. glossary::\n   :sorted:\n"]
    for term in TERMS:
        out.append(f"   {term.name}\n      {rst.text(term.definition)}\n")
    return "\n".join(out)
