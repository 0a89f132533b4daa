"""``python -m experiments <study> ...``: run a study or redraw figures from saved runs.

Adding a study is one line in ``SUBCOMMANDS``: a name and the module that provides
``add_arguments(parser)`` and ``main(args) -> int``.

Bad input ends with ONE line on stderr, ``error: <the problem and the valid choices>``, and a non-zero
exit status: 2 for a mistake in the command line, the configuration, the data or a run directory
(:data:`USER_ERRORS`), 3 for a run that diverged (its metrics so far are kept, its status is
``diverged``). ``--debug`` (anywhere on the command line) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from experiments.analysis import AnalysisError
from experiments.config import ConfigError
from experiments.data import DataFileError
from experiments.runs import Diverged, RunFileError

SUBCOMMANDS: dict[str, str] = {
    "cloning": "experiments.studies.cloning",
    "bitflip": "experiments.studies.bitflip",
    "continual": "experiments.studies.continual",
    "plot": "experiments.studies.plotting",
    "sweep": "experiments.sweeps.cli",
    "gpu-check": "experiments.sweeps.gpu_check",
}
USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    RunFileError,
    AnalysisError,
    DataFileError,  # a damaged, misplaced or missing data file (DatasetNotFound is one)
    FileNotFoundError,  # a missing run directory
    FileExistsError,  # a figure that would be overwritten
)
"""Mistakes of the user (not bugs of the code): reported in one line without a traceback."""
EXIT_BAD_INPUT, EXIT_DIVERGED = 2, 3
DEBUG_FLAG = "--debug"


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``error:`` line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv
    argv = [a for a in argv if a != DEBUG_FLAG]
    parser = OneLineParser(prog="python -m experiments", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(SUBCOMMANDS) + "}")
    modules = {}
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or "").strip().splitlines()
        sp = sub.add_parser(name, help=doc[0] if doc else name, description=" ".join(doc[:3]))
        module.add_arguments(sp)
        modules[name] = module
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may also follow --options (argparse stops collecting positionals at the first one).
    if extra:
        if not hasattr(args, "overrides") or any(e.startswith("-") or "=" not in e for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = list(args.overrides) + extra
    try:
        return int(modules[args.command].main(args))
    except Diverged as err:
        if debug:
            raise
        kept = (
            f"; the metrics so far are kept in {err.run_dir} (status.json: diverged)" if err.run_dir else ""
        )
        print(one_line(f"error: the run diverged: {err.message}{kept}"), file=sys.stderr)
        return EXIT_DIVERGED
    except USER_ERRORS as err:
        if debug:
            raise
        print(one_line(f"error: {err}"), file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
