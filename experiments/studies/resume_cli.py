"""``--resume RUN_DIR``, shared by every study's command line: continue a killed run from its checkpoint."""

from __future__ import annotations

import argparse

from experiments.config import ConfigError

RESUME_HELP = (
    "continue the killed run RUN_DIR from its last checkpoint (from its start when it has none), in the "
    "same directory; the run's config.json holds every setting, so no preset, key=value or --out is taken"
)


def add_resume_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", default=None, metavar="RUN_DIR", help=RESUME_HELP)


def check_resume_alone(args: argparse.Namespace) -> None:
    """A :class:`ConfigError` when ``--resume`` comes with settings it would have to ignore."""
    given = [f"--preset {args.preset}"] if getattr(args, "preset", None) else []
    given += [f"--out {args.out}"] if getattr(args, "out", None) else []
    given += list(getattr(args, "overrides", None) or [])
    given += [f"--plot {' '.join(args.plot)}"] if getattr(args, "plot", None) else []
    if given:
        raise ConfigError(
            "--resume continues a saved run with the settings of its config.json; "
            "it takes no other settings "
            f"(got {' '.join(given)})"
        )
