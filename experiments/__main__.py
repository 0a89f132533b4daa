"""``python -m experiments <study> ...``: run a study or redraw figures from saved runs.

Adding a study is one line in ``SUBCOMMANDS``: a name and the module that provides
``add_arguments(parser)`` and ``main(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from experiments.config import ConfigError
from experiments.data import DataFileError

SUBCOMMANDS: dict[str, str] = {
    "cloning": "experiments.studies.cloning",
    "bitflip": "experiments.studies.bitflip",
    "continual": "experiments.studies.continual",
    "plot": "experiments.studies.plotting",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__.splitlines()[0])
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
    except (ConfigError, DataFileError, FileNotFoundError) as err:  # config and data mistakes: one line
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
