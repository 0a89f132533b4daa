"""Grids of configurations: axes, their Cartesian products, and every check made before a sweep starts.

An :class:`Axis` is a named list of choices; a choice sets one or more keys (``lr=0.1``, or a bundle such as
``noisy_sgd`` = ``optimizer=noisy_sgd sigma0=0.01 decay=0.999``). A :class:`Block` is the Cartesian product
of its axes; a :class:`Grid` is the union of its blocks (a figure that varies σ₀ at fixed λ and λ at fixed
σ₀ is two blocks; a point in both is run once). ``--grid KEY=V1,V2,…`` on the command line is one axis of
one block (:func:`parse_grid_option`).

:func:`expand` resolves every point (preset, then the fixed ``key=value`` overrides, then the point's own)
with the study's strict validation, and refuses, naming the key or the point: an unknown key, a grid that
lists no value or a value twice, a key in two axes or both in a grid and fixed, a key the sweep sets
itself (``out``), a point whose configuration is invalid (including keys that have no effect in it), and
two points with the same configuration.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import typing
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from experiments.config import RANGE_SEPARATOR, ConfigError, parse_value
from experiments.studies.registry import Study

LIST_SEPARATOR = ";"
"""Separates the values of a list-valued key in ``--grid`` (``--grid width=5,50;10,100``: two points)."""
SWEEP_SET_KEYS = ("out",)
"""Keys the sweep sets for every point itself (each point writes under ``SWEEP_DIR/points/NNN``)."""
POINT_FIXED = {"progress": False}
DEFAULT_DEVICE = "auto"
"""Values every point gets unless the user fixes them (no progress bars in worker logs)."""


class SweepError(ConfigError):
    """A mistake in a sweep's grid, options or directory (exit status 2, one ``error:`` line)."""


@dataclass(frozen=True)
class Choice:
    """One value of an axis: its label and the ``key=value`` texts it sets."""

    label: str
    sets: tuple[tuple[str, str], ...]

    @property
    def overrides(self) -> list[str]:
        return [f"{key}={text}" for key, text in self.sets]


@dataclass(frozen=True)
class Axis:
    name: str
    choices: tuple[Choice, ...]

    @property
    def keys(self) -> set[str]:
        return {key for choice in self.choices for key, _ in choice.sets}

    @classmethod
    def of(cls, key: str, texts: list[str]) -> Axis:
        """An axis over one key: each text is a value of ``key``."""
        return cls(key, tuple(Choice(text, ((key, text),)) for text in texts))


@dataclass(frozen=True)
class Block:
    axes: tuple[Axis, ...]

    def points(self) -> list[tuple[dict[str, str], list[str]]]:
        """(axis name → choice label, overrides) of every point of the product, in axis order."""
        out = []
        for combo in itertools.product(*(axis.choices for axis in self.axes)):
            labels = {axis.name: choice.label for axis, choice in zip(self.axes, combo)}
            out.append((labels, [o for choice in combo for o in choice.overrides]))
        return out


@dataclass(frozen=True)
class Grid:
    blocks: tuple[Block, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "blocks": [
                [
                    {"axis": a.name, "choices": [{"label": c.label, "sets": dict(c.sets)} for c in a.choices]}
                    for a in b.axes
                ]
                for b in self.blocks
            ]
        }

    def with_axis(self, axis: Axis) -> Grid:
        """Every block with ``axis`` appended (a figure sweep's seeds)."""
        return Grid(tuple(Block((*b.axes, axis)) for b in self.blocks))


@dataclass
class Point:
    """One run of a sweep: its index, the grid block it came from, axis labels, overrides, resolved
    configuration and steps."""

    index: int
    block: int
    labels: dict[str, str]
    overrides: list[str]
    config: Any
    steps: int
    device: str = DEFAULT_DEVICE
    """The device as asked for (``auto`` unless set): it is resolved where the point runs, not here."""

    def stored_config(self, out: str) -> dict[str, Any]:
        """The configuration a worker rebuilds the point from: resolved, but with the device as asked for
        and ``out`` = ``out``."""
        return {**self.config.to_dict(), "device": self.device, "out": out}

    @property
    def name(self) -> str:
        return f"{self.index:03d}"

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.labels.items())


def field_types(study: Study) -> dict[str, Any]:
    """The study's configuration keys and their types (its dataclass fields; class constants such as
    ``PRESETS`` are no keys)."""
    hints = typing.get_type_hints(study.config_class)
    return {field.name: hints[field.name] for field in dataclasses.fields(study.config_class)}


def parse_grid_option(study: Study, text: str) -> Axis:
    """``KEY=V1,V2,…`` as an axis over KEY (values of a list-valued key separated by ``;``; an integer
    range ``a..b`` stands for each integer); unknown keys and empty or repeated values are errors."""
    if "=" not in text:
        raise SweepError(f"--grid {text!r} must look like KEY=V1,V2,…")
    key, _, values = (part.strip() for part in text.partition("="))
    hints = field_types(study)
    if key not in hints:
        raise SweepError(
            f"--grid {key}: unknown key {key!r} for the {study.name} study; valid keys: {', '.join(hints)}"
        )
    if key in SWEEP_SET_KEYS:
        raise SweepError(
            f"--grid {key}: {key} is set by the sweep (each point writes under SWEEP_DIR/points/NNN)"
        )
    texts = split_values(key, hints[key], values)
    if not texts:
        raise SweepError(f"--grid {key}= lists no values; give --grid {key}=V1,V2,…")
    repeated = sorted({t for t in texts if texts.count(t) > 1})
    if repeated:
        raise SweepError(f"--grid {key} lists {', '.join(repeated)} more than once; give each value once")
    return Axis.of(key, texts)


def split_values(key: str, tp: Any, text: str) -> list[str]:
    """The texts of the grid values of ``key`` (type ``tp``): split on ``;`` when present, else on
    commas, integer ranges expanded for integer keys and integer-list keys."""
    if LIST_SEPARATOR in text:
        return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]
    parts = [part.strip() for part in text.split(",") if part.strip()]
    inner = [a for a in get_args(tp) if a is not Ellipsis]
    integer = tp is int or (get_origin(tp) in (tuple, list) and inner and inner[0] is int)
    out: list[str] = []
    for part in parts:
        if integer and RANGE_SEPARATOR in part:
            out += [str(v) for v in parse_value(key, list[int], part)]
        else:
            out.append(part)
    return out


def requested(study: Study, preset: str, overrides: list[str], key: str, default: str) -> str:
    """The value of ``key`` as given (the last override, else the preset's), before any resolution."""
    given = [o.partition("=")[2].strip() for o in overrides if o.partition("=")[0].strip() == key]
    if given:
        return given[-1]
    return str(study.config_class.PRESETS.get(preset, {}).get(key, default))


def expand(
    study: Study, preset: str, grid: Grid, fixed: list[str], check_machine: bool = True
) -> list[Point]:
    """Every point of ``grid`` resolved and checked (module docstring); raises :class:`SweepError`.
    ``check_machine=False`` skips the checks that depend on this machine (a Slurm sweep runs elsewhere)."""
    hints = field_types(study)
    fixed_keys: dict[str, str] = {}
    for item in fixed:
        key = item.partition("=")[0].strip()
        if key in SWEEP_SET_KEYS:
            raise SweepError(
                f"{key}= is set by the sweep (each point writes under SWEEP_DIR/points/NNN); use --out DIR"
            )
        fixed_keys[key] = item
    if not grid.blocks:
        raise SweepError("the sweep has no grid: give at least one --grid KEY=V1,V2,… (or --figure ID)")
    for block in grid.blocks:
        if not block.axes:
            raise SweepError("a grid block has no axes")
        seen: dict[str, str] = {}
        for axis in block.axes:
            if not axis.choices:
                raise SweepError(f"the grid axis {axis.name} lists no values")
            for key in sorted(axis.keys):
                if key not in hints:
                    raise SweepError(
                        f"grid axis {axis.name}: unknown key {key!r}; valid keys: {', '.join(hints)}"
                    )
                if key in fixed_keys:
                    raise SweepError(
                        f"{key} is both in the grid (axis {axis.name}) and fixed ({fixed_keys[key]}); "
                        "give it in one place"
                    )
                if key in seen:
                    raise SweepError(
                        f"{key} is set by two grid axes ({seen[key]} and {axis.name}); give it in one"
                    )
                seen[key] = axis.name
    points: list[Point] = []
    by_config: dict[str, Point] = {}
    for block_index, block in enumerate(grid.blocks):
        for labels, overrides in block.points():
            point_keys = {o.partition("=")[0] for o in overrides} | set(fixed_keys)
            extra = [f"{k}={_text(v)}" for k, v in POINT_FIXED.items() if k in hints and k not in point_keys]
            where = ", ".join(f"{k}={v}" for k, v in labels.items())
            try:
                cfg = study.resolve(preset, [*fixed, *overrides, *extra])
                if check_machine:
                    cfg.check_machine()
                study.precheck(cfg)
            except ConfigError as err:
                raise SweepError(f"grid point ({where}): {err}") from None
            signature = json.dumps(_setting(cfg), sort_keys=True)
            if signature in by_config:
                if block_index > by_config[signature].block:
                    continue  # the same point in two blocks of a figure sweep: run it once
                raise SweepError(
                    f"grid points ({by_config[signature].describe()}) and ({where}) "
                    "have the same configuration; "
                    f"drop one of the values"
                )
            device = requested(study, preset, [*fixed, *overrides], "device", DEFAULT_DEVICE)
            point = Point(
                len(points), block_index, labels, [*overrides, *extra], cfg, study.steps(cfg), device
            )
            by_config[signature] = point
            points.append(point)
    return points


def _setting(cfg: Any) -> dict[str, Any]:
    values = cfg.to_dict()
    values.pop("out", None)
    return values


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def with_out(cfg: Any, out: str) -> Any:
    """``cfg`` writing its run directory under ``out``."""
    return dataclasses.replace(cfg, out=out)
