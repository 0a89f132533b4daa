"""Every check quotes the sentence it tests verbatim (up to whitespace) and says where it stands.

The verbatim test needs the paper text (``LOP_PAPER``, ``../shared/paper/`` or ``/work/shared/paper/``); it is
skipped, with the reason, only where the file cannot be found (e.g. a CI runner without it). The rest runs
everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from proofs_check import paper, registry
from proofs_check.errata import corrections_of
from proofs_check.paper import PAPER_ENV, is_verbatim, normalise, not_verbatim, paper_path, paper_text
from proofs_check.registry import Outcome, all_checks, claim

CHECKS = all_checks()


def _paper_or_skip() -> Path:
    try:
        path = paper_path()
    except FileNotFoundError as err:
        pytest.fail(str(err))
    if path is None:
        pytest.skip(f"the paper text {paper.PAPER_FILE} is not available here (set {PAPER_ENV} to its path)")
    return path


def test_every_quote_is_verbatim_in_the_paper() -> None:
    path = _paper_or_skip()
    quotes = {c.id: c.quote for c in CHECKS if c.quote}
    assert not not_verbatim(quotes, path), f"quotes not found verbatim in {path}: {not_verbatim(quotes, path)}"


def test_every_quote_is_at_least_a_clause() -> None:
    short = [c.id for c in CHECKS if c.quote and len(normalise(c.quote).split()) < 5]
    assert not short, f"quotes shorter than a clause: {short}"


def test_every_paper_check_has_a_quote_and_a_location() -> None:
    missing = [c.id for c in CHECKS if not c.location.strip() or (c.subject == "paper" and not c.quote.strip())]
    assert not missing, f"checks without quote or location: {missing}"


def test_every_check_quotes_something() -> None:
    assert not [c.id for c in CHECKS if not c.quote.strip()]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"location": "Theorem 9.9"}, "needs a quote"),
        ({"quote": "a sentence of the paper"}, "needs a location"),
        ({"quote": "q", "location": "l", "subject": "correction"}, "must name the paper check"),
        ({"quote": "q", "location": "l", "corrects": "lemma-A.1/relu"}, "subject is 'paper'"),
        ({"quote": "q", "location": "l", "subject": "opinion"}, "subject"),
    ],
)
def test_the_registry_rejects_incomplete_registrations(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        claim("lemma-Z.9/incomplete", "c", "numeric", **kwargs)


def test_a_correction_may_correct_several_checks(monkeypatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", {})
    claim("lemma-Z.9/fix", "c", "numeric", quote="q", location="l", subject="correction",
          corrects=("lemma-Z.9/a", "lemma-Z.9/b"))(lambda ctx: Outcome("holds"))
    assert registry._REGISTRY["lemma-Z.9/fix"].corrects == ("lemma-Z.9/a", "lemma-Z.9/b")


def test_bug_a_single_corrects_id_is_stored_as_a_tuple(monkeypatch) -> None:
    """Checks registered with ``corrects="id"`` were looked up by comparing ``corrects`` with a string; the registry
    stores a tuple, and corrections are found through :func:`proofs_check.errata.corrections_of`."""
    monkeypatch.setattr(registry, "_REGISTRY", {})
    claim("lemma-Z.9/fix", "c", "numeric", quote="q", location="l", subject="correction",
          corrects="lemma-Z.9/a")(lambda ctx: Outcome("holds"))
    fix = registry._REGISTRY["lemma-Z.9/fix"]
    assert fix.corrects == ("lemma-Z.9/a",)
    assert corrections_of([fix]) == {"lemma-Z.9/a": [fix]}


def test_verbatim_ignores_whitespace_only() -> None:
    text = normalise("Let  $\\mathcal{M}_F$ be\n\nthe frozen   manifold.")
    assert is_verbatim("$\\mathcal{M}_F$ be the frozen manifold.", text)
    assert is_verbatim("Let $\\mathcal{M}_F$\tbe", text)
    assert not is_verbatim("$\\mathcal{M}_F$ is the frozen manifold.", text)  # one word differs
    assert not is_verbatim("M_F be the frozen manifold.", text)  # LaTeX is quoted as it stands
    assert not is_verbatim("   ", text)


def test_the_paper_is_found_through_the_environment(monkeypatch, tmp_path) -> None:
    copy = tmp_path / "paper.txt"
    copy.write_text("Theorem 1. Every   claim is\nchecked.", encoding="utf-8")
    monkeypatch.setenv(PAPER_ENV, str(copy))
    assert paper_path() == copy
    assert paper_text() == "Theorem 1. Every claim is checked."
    assert not_verbatim({"a": "Every claim is checked.", "b": "Every claim is proved."}) == ["b"]


def test_a_wrong_environment_path_is_an_error_not_a_fallback(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(PAPER_ENV, str(tmp_path / "missing.txt"))
    with pytest.raises(FileNotFoundError, match=PAPER_ENV):
        paper_path()


def test_without_any_paper_the_lookup_says_where_it_looked(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(PAPER_ENV, raising=False)
    monkeypatch.setattr(paper, "DEFAULT_LOCATIONS", (tmp_path / "nowhere.txt",))
    assert paper_path() is None
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        paper_text()
