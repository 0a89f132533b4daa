"""The registry of paper claims and the record each check returns.

A check is a function ``fn(ctx: Context) -> Outcome`` registered with :func:`claim`. Its id starts with
the paper's label (``lemma-A.1/...``, ``theorem-3.1/...``, ``remark-2.4/...``). Each claim is tested
exactly as the paper states it; the registration says what we *expect* the outcome to be:

* ``holds``   — the statement was verified (symbolically, in high precision, numerically or as a property);
* ``refuted`` — the statement as written, under its most natural reading, is false in the setting it
  speaks of, and the check found a concrete counterexample, printed in ``detail``; a refuted claim is
  registered next to a check of its corrected statement;
* ``imprecise`` — the sentence is hedged ("could", "may", "in most cases"), ambiguous (two natural
  readings disagree; ``detail`` reports each reading's outcome) or true as written but misleading.

Labels: ``section-4/...`` and ``figure-A.1/...`` for sentences outside a numbered statement.

Every check also says exactly what it tests: ``quote`` (the sentence(s) of the paper, verbatim up to
whitespace, see :mod:`proofs_check.paper`; mandatory for a ``paper`` check, and a correction quotes the
sentence it corrects), ``location`` (``Theorem 2.1 (2)``, ``Appendix A.2, paragraph 3``, ...; mandatory),
``subject`` (``paper`` for a claim of the paper, ``correction`` for our corrected statement of a claim
that fails, ``extension`` for a result the paper does not state), ``reading`` (how the sentence was
interpreted where there is a choice, and which other reading exists) and, for a correction, ``corrects``
(the id, or ids, of the paper checks it corrects). An ``imprecise`` verdict is built by
:func:`judge_readings` from the outcome of each reading, so that every reading's verdict is printed.

A check whose outcome differs from its expectation (or that raises) makes ``python -m proofs_check`` exit
non-zero. Checks hold no mathematics of their own beyond the statement of the claim: the computations
live in ``theory``, ``dag_nets`` and ``experiments``.
"""

from __future__ import annotations

import re
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from dag_nets.threads import single_threaded

Status = Literal["holds", "refuted", "imprecise", "failed", "error"]
Verdict = Literal["holds", "refuted", "imprecise"]
Method = Literal["symbolic", "high-precision", "numeric", "property"]
Subject = Literal["paper", "correction", "extension"]
METHODS: tuple[str, ...] = get_args(Method)
EXPECTABLE: tuple[str, ...] = get_args(Verdict)
SUBJECTS: tuple[str, ...] = get_args(Subject)
STATUSES: tuple[str, ...] = get_args(Status)
SEED_MAX = 2**32 - 1
"""Largest accepted seed: checks add offsets of a few thousand and torch seeds must fit 64 bits."""
_ID_PATTERN = re.compile(
    r"^(lemma|theorem|remark|definition|corollary|observation|appendix|section|figure)-[A-Z0-9.]+/[\w.\-/]+$"
)


@dataclass(frozen=True)
class Context:
    """What a check may depend on: the effort level and a seed, nothing else."""

    thorough: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= SEED_MAX:
            raise ValueError(f"seed must be an integer in [0, {SEED_MAX}], got {self.seed!r}")


@dataclass
class Outcome:
    """What a check found.

    ``status`` is ``holds`` when the claim as stated was confirmed and ``refuted`` when a counterexample
    was found (``failed`` means the check's own expectation did not materialise: use ``holds``/``refuted``
    for the claim and let the runner compare with the expectation). ``margin`` is the slack of an
    inequality (its smallest observed value of lhs − rhs), or a residual for an identity; ``detail`` says
    where the margin is attained, or prints the counterexample. ``summary`` is the one-line version of a
    counterexample (or of each reading's outcome) that the errata table prints; without one, the table
    shows the first sentence of ``detail``.
    """

    status: Status
    margin: float | None = None
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


@dataclass(frozen=True)
class ReadingOutcome:
    """What one reading of a sentence gives: the reading, its verdict, and the evidence (numbers)."""

    reading: str
    status: Literal["holds", "refuted"]
    evidence: str


def judge_readings(
    readings: Sequence[ReadingOutcome], margin: float | None = None, detail: str = "", summary: str = ""
) -> Outcome:
    """The verdict on a sentence read several ways: the common verdict when every reading agrees,
    ``imprecise`` when they disagree. The detail prints every reading with its own verdict and evidence
    (followed by ``detail``); ``data["readings"]`` carries them for ``--json`` and the errata report."""
    if len(readings) < 2:
        raise ValueError("judge_readings needs at least two readings (one reading is an ordinary verdict)")
    statuses = {r.status for r in readings}
    status: Status = readings[0].status if len(statuses) == 1 else "imprecise"
    lines = [
        f"Reading {chr(ord('A') + i)} ({r.reading}): {r.status.upper()} — {r.evidence}"
        for i, r in enumerate(readings)
    ]
    text = "\n".join(lines) + (f"\n{detail}" if detail else "")
    data = {
        "readings": [{"reading": r.reading, "status": r.status, "evidence": r.evidence} for r in readings]
    }
    short = summary or "; ".join(f"{chr(ord('A') + i)}: {r.status}" for i, r in enumerate(readings))
    return Outcome(status, margin, text, data, short)


CheckFn = Callable[[Context], Outcome]


@dataclass(frozen=True)
class Check:
    """One registered check: the claim, how it is tested, the verdict expected, and what it quotes."""

    id: str
    claim: str
    method: Method
    expected: Verdict
    fn: CheckFn
    thorough_only: bool = False
    quote: str = ""
    location: str = ""
    subject: Subject = "paper"
    reading: str | None = None
    corrects: tuple[str, ...] = ()


@dataclass
class Result:
    check: Check
    outcome: Outcome
    seconds: float

    @property
    def as_expected(self) -> bool:
        return self.outcome.status == self.check.expected

    def to_json(self) -> dict[str, Any]:
        margin = self.outcome.margin
        return {
            "id": self.check.id,
            "claim": self.check.claim,
            "location": self.check.location,
            "subject": self.check.subject,
            "quote": self.check.quote,
            "reading": self.check.reading,
            "corrects": list(self.check.corrects),
            "method": self.check.method,
            "status": self.outcome.status,
            "expected": self.check.expected,
            "as_expected": self.as_expected,
            "margin": None if margin is None else float(margin),
            "detail": self.outcome.detail,
            "summary": self.outcome.summary,
            "readings": self.outcome.data.get("readings"),
            "seconds": round(self.seconds, 3),
        }


_REGISTRY: dict[str, Check] = {}


def claim(
    id: str,
    claim: str,
    method: Method,
    expected: Verdict = "holds",
    thorough_only: bool = False,
    *,
    quote: str = "",
    location: str = "",
    subject: Subject = "paper",
    reading: str | None = None,
    corrects: str | Sequence[str] | None = None,
) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as the check of one claim (see the module docstring for the fields).

    Rejected: a malformed id, an unknown method, verdict or subject, a missing location, a ``paper``
    check without a quote, a correction that names no check it corrects, and ``corrects`` on a check
    that is not a correction."""
    if not _ID_PATTERN.match(id):
        raise ValueError(f"check id {id!r} must look like 'lemma-A.1/what' (paper label, slash, name)")
    if method not in METHODS:
        raise ValueError(f"method {method!r} of {id!r} must be one of {', '.join(METHODS)}")
    if expected not in EXPECTABLE:
        raise ValueError(f"expected {expected!r} of {id!r} must be one of {', '.join(EXPECTABLE)}")
    if subject not in SUBJECTS:
        raise ValueError(f"subject {subject!r} of {id!r} must be one of {', '.join(SUBJECTS)}")
    corrected = (corrects,) if isinstance(corrects, str) else tuple(corrects or ())
    if corrected and subject != "correction":
        raise ValueError(f"{id!r} names the check it corrects ({corrects!r}) but its subject is {subject!r}")
    if subject == "correction" and not corrected:
        raise ValueError(f"correction {id!r} must name the paper check(s) it corrects (corrects=...)")
    if not location.strip():
        raise ValueError(f"{id!r} needs a location (where the sentence stands, e.g. 'Theorem 2.1 (2)')")
    if subject == "paper" and not quote.strip():
        raise ValueError(
            f"paper check {id!r} needs a quote: the sentence(s) it tests, verbatim from the paper"
        )

    def register(fn: CheckFn) -> CheckFn:
        if id in _REGISTRY:
            raise ValueError(f"check id {id!r} is registered twice")
        _REGISTRY[id] = Check(
            id,
            claim,
            method,
            expected,
            fn,
            thorough_only,
            quote=quote,
            location=location,
            subject=subject,
            reading=reading,
            corrects=corrected,
        )
        return fn

    return register


def all_checks() -> list[Check]:
    """Every registered check, in the order of ``SECTION_MODULES`` and, within a module, of registration
    (so the order never depends on which module happened to be imported first)."""
    from proofs_check import SECTION_MODULES, load_all

    load_all()
    rank = {name: i for i, name in enumerate(SECTION_MODULES)}
    return sorted(_REGISTRY.values(), key=lambda c: rank.get(c.fn.__module__, len(rank)))


def select(checks: list[Check], pattern: str | None, thorough: bool) -> list[Check]:
    """The check whose id equals ``pattern`` exactly, if there is one; otherwise the checks whose id
    contains ``pattern`` (a substring or a regular expression), less the thorough-only ones unless
    ``thorough``."""
    exact = [c for c in checks if c.id == pattern]
    if exact:
        return exact
    chosen = [c for c in checks if thorough or not c.thorough_only]
    if pattern:
        try:
            rx = re.compile(pattern)
        except re.error as err:
            raise ValueError(f"--only {pattern!r} is not a valid regular expression: {err}") from None
        chosen = [c for c in chosen if pattern in c.id or rx.search(c.id)]
    return chosen


def run_check(check: Check, ctx: Context) -> Result:
    """Run one check with one intra-op torch thread (its networks are tiny, see dag_nets.threads)."""
    start = time.perf_counter()
    try:
        with single_threaded():
            outcome = check.fn(ctx)
        if outcome.status not in STATUSES:
            outcome = Outcome("error", None, f"check returned unknown status {outcome.status!r}")
    except Exception as err:  # noqa: BLE001  (a crashing check is reported, never hidden)
        tb = traceback.format_exc(limit=4)
        outcome = Outcome("error", None, f"{type(err).__name__}: {err}\n{tb}")
    return Result(check, outcome, time.perf_counter() - start)
