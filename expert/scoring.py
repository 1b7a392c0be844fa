"""Scores a user can recompute by hand.

A diagnosis scores its condition's base plus the weight of each evidence term (kb/evidence.yaml),
clamped to 0..1. Its causes start from their knowledge-base priors, are multiplied by the
likelihood ratio of every `when` clause the evidence matches, and are normalised to sum to 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from netwhy.expert.diagnosis import RankedCause, ScoreTerm
from netwhy.kb import Condition, KnowledgeBase


def diagnosis_score(
    condition: Condition, terms: Iterable[str], kb: KnowledgeBase
) -> tuple[float, tuple[ScoreTerm, ...]]:
    parts = [ScoreTerm("base", condition.base_score, condition.base_reason)]
    for name in dict.fromkeys(terms):  # each term counts once, in the order the rules gave it
        term = kb.evidence[name]
        parts.append(ScoreTerm(name, term.weight, term.reason))
    total = sum(part.value for part in parts)
    return round(min(1.0, max(0.0, total)), 3), tuple(parts)


def ranked(condition: Condition, features: dict[str, Any]
           ) -> tuple[tuple[RankedCause, ...], tuple[str, ...]]:
    """The condition's causes, likeliest first, and its remedies in that light. Both depend
    only on which `when` clauses the features match, so each such pattern is worked out once
    per condition: a busy capture has thousands of diagnoses and a handful of patterns."""
    matched = tuple(tuple(rule.matches(features) for rule in cause.when)
                    for cause in condition.causes)
    key = (id(condition), matched)
    cached = _RANKED.get(key)
    if cached is None or cached[0] is not condition:  # an id reused by a later knowledge base
        causes = _ranked_causes(condition, matched)
        cached = (condition, causes, _ranked_remedies(condition, causes))
        _RANKED[key] = cached
    return cached[1], cached[2]


_RANKED: dict[tuple[int, tuple], tuple[Condition, tuple[RankedCause, ...], tuple[str, ...]]] = {}


def _ranked_remedies(condition: Condition, causes: tuple[RankedCause, ...]) -> tuple[str, ...]:
    """Remedies for the likeliest causes first; remedies for any cause keep their place among
    them by the score of the top cause; ties keep the knowledge base's order."""
    score = {cause.id: cause.score for cause in causes}
    top = causes[0].score if causes else 0.0

    def weight(index_and_remedy):
        index, remedy = index_and_remedy
        best = max((score.get(cause, 0.0) for cause in remedy.causes), default=top)
        return (-best, index)

    ordered = sorted(enumerate(condition.remedies), key=weight)
    return tuple(remedy.text for _, remedy in ordered)


def _ranked_causes(condition: Condition, matched: tuple[tuple[bool, ...], ...]
                   ) -> tuple[RankedCause, ...]:
    weighed = []
    for cause, matches in zip(condition.causes, matched, strict=True):
        terms = tuple(
            ScoreTerm(f"{rule.feature} x{rule.factor:g}", rule.factor, rule.reason)
            for rule, match in zip(cause.when, matches, strict=True)
            if match
        )
        weight = cause.prior
        for term in terms:
            weight *= term.value
        weighed.append((cause, weight, terms))
    total = sum(weight for _, weight, _ in weighed)
    ranked = [
        RankedCause(
            id=cause.id, text=cause.text, score=round(weight / total, 3), prior=cause.prior,
            terms=terms, checks=cause.checks,
        )
        for cause, weight, terms in weighed
    ]
    return tuple(sorted(ranked, key=lambda cause: -cause.score))
