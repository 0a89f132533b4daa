"""The paper's text: where to find it, and whether a check's quote stands in it verbatim.

Every check quotes the sentence(s) it tests (``quote`` in :func:`proofs_check.registry.claim`). A quote
is *verbatim* when, after collapsing every run of whitespace to one space, it is a substring of the
paper file (also whitespace-collapsed): line breaks, page breaks and indentation of the text file do not
matter, everything else does — LaTeX such as ``$\\mathcal{M}_F$``, markdown emphasis ``*``, curly
quotes and the paper's own typos are quoted exactly as they stand.

The file is looked up in this order: the environment variable ``LOP_PAPER`` (an error if it names no
file), ``../shared/paper/loss-of-plasticity-manifolds.txt`` relative to the repository root, then
``/work/shared/paper/loss-of-plasticity-manifolds.txt``.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

PAPER_ENV = "LOP_PAPER"
PAPER_FILE = "loss-of-plasticity-manifolds.txt"
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCATIONS: tuple[Path, ...] = (
    REPOSITORY_ROOT.parent / "shared" / "paper" / PAPER_FILE,
    Path("/work/shared/paper") / PAPER_FILE,
)
_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """``text`` with every run of whitespace collapsed to one space, stripped at both ends."""
    return _WHITESPACE.sub(" ", text).strip()


def paper_path() -> Path | None:
    """The paper file, or None when it is in none of the default places (see the module docstring).

    Raises FileNotFoundError when ``LOP_PAPER`` is set but names no file: an explicit choice that fails
    is an error, never a silent fallback to another copy.
    """
    chosen = os.environ.get(PAPER_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"{PAPER_ENV}={chosen!r} names no file (the paper text {PAPER_FILE} is expected)"
            )
        return path
    return next((p for p in DEFAULT_LOCATIONS if p.is_file()), None)


@functools.lru_cache(maxsize=4)
def _normalised_text(path: Path) -> str:
    try:
        return normalise(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: the paper text is not valid UTF-8 ({err})") from None


def paper_text(path: Path | None = None) -> str:
    """The whitespace-normalised paper text (FileNotFoundError when the file cannot be found)."""
    where = path if path is not None else paper_path()
    if where is None:
        raise FileNotFoundError(
            f"the paper text {PAPER_FILE} was not found; set {PAPER_ENV} or place it at "
            + " or ".join(str(p) for p in DEFAULT_LOCATIONS)
        )
    return _normalised_text(Path(where))


def is_verbatim(quote: str, text: str) -> bool:
    """True when the non-empty ``quote`` equals, up to whitespace, a substring of ``text`` (normalised)."""
    wanted = normalise(quote)
    return bool(wanted) and wanted in text


def not_verbatim(quotes: dict[str, str], path: Path | None = None) -> list[str]:
    """The keys of ``quotes`` (check id → quote) whose quote is empty or not verbatim in the paper."""
    text = paper_text(path)
    return [key for key, quote in quotes.items() if not is_verbatim(quote, text)]
