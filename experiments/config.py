"""Typed, validated experiment configuration (Appendix B.1.3, "Experimental Control").

A configuration is a dataclass whose fields carry their own validation in ``metadata`` (built with
:func:`param`). :func:`resolve_config` starts from a named preset and applies ``key=value`` overrides,
parsing each value with the type of its field:

* ``int``, ``float``, ``str``; ``bool`` from ``true/false/1/0/yes/no/on/off``;
* ``Literal[...]`` from its choices;
* ``tuple[int, ...]`` / ``tuple[float, ...]`` / ``list[...]`` from comma-separated numbers (``1,2,3``);
  an integer element ``a..b`` stands for a, a+1, …, b (inclusive, as in a shell's ``{a..b}``);
* an integer may be written in float notation when it is whole (``samples=5e6``).

Every mistake is a :class:`ConfigError` (a ``ValueError``) that names the valid keys, the valid range
or the valid choices: an unknown key, a key given twice (``lr=0.1 lr=0.2``), an empty value (``lr=``),
a value of the wrong type or out of range. Nothing is silently ignored: a key that has no effect under
the other settings (``sigma0`` without ``optimizer=noisy_sgd``, :meth:`BaseConfig.inert_keys`) is an
error when it is given explicitly as an override, naming what would make it matter; presets may set such
keys. The resolved configuration (``to_dict``) is JSON-serializable and has no ``"auto"`` left in it:
the device is resolved at resolution time.

Seeds: every configuration has a ``seed`` field in [0, 2³² − 1] (numpy's legacy seeding works modulo
2³², so larger seeds would silently repeat smaller ones); :func:`seed_everything` seeds python, numpy and
torch (CPU and CUDA) and switches cuDNN to deterministic mode, as the paper's experimental control does.
Studies that run several seeds in one run directory have a ``seeds`` field with ONE meaning everywhere:
**the list of seeds to run** (``seeds=3`` is seed 3 alone, ``seeds=0,1,2`` and ``seeds=0..2`` are three
seeds). An explicit ``seed=N`` without ``seeds`` runs seed N alone (it replaces a preset's ``seeds``);
giving both explicitly is an error.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin

import numpy as np
import torch

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:<index>", "mps")
MAX_SEED = 2**32 - 1
"""Largest seed: ``np.random.seed`` takes seeds modulo 2³², so a larger seed would repeat a smaller one."""
RANGE_SEPARATOR = ".."

C = TypeVar("C", bound="BaseConfig")


class ConfigError(ValueError):
    """A configuration mistake: unknown key, invalid value, or unknown preset."""


@dataclass(frozen=True)
class Inert:
    """Why a key has no effect in a configuration: it would act with ``needs``; here ``now`` holds."""

    needs: str
    now: str


def inert(keys: tuple[str, ...] | list[str], needs: str, now: str) -> dict[str, Inert]:
    """``{key: Inert(needs, now)}`` for each of ``keys`` (a helper for :meth:`BaseConfig.inert_keys`)."""
    return {key: Inert(needs, now) for key in keys}


def ineffective_overrides_error(bad: dict[str, Inert]) -> ConfigError:
    """One message for every explicit override without effect, grouped by what would make them act."""
    by_reason: dict[Inert, list[str]] = {}
    for key, why in bad.items():
        by_reason.setdefault(why, []).append(key)
    parts = [
        f"{', '.join(keys)} only act with {why.needs} (here {why.now}); "
        f"drop {'it' if len(keys) == 1 else 'them'} or set {why.needs}"
        for why, keys in by_reason.items()
    ]
    return ConfigError("; ".join(parts))


def param(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """A dataclass field with a help text and an optional numeric range ``[low, high]``.

    ``low_open``/``high_open`` make the corresponding bound strict. For sequence fields the range
    applies to every element. Mutable defaults (lists) are copied per instance.
    """
    meta = {"help": help, "low": low, "high": high, "low_open": low_open, "high_open": high_open}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def resolve_device(name: str) -> str:
    """``auto`` → ``cuda`` when a CUDA device is present, else ``cpu``; other names are checked."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name in ("cpu", "mps"):
        return name
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device={name!r} was asked for but CUDA is not available; use device=auto or cpu"
            )
        return name
    raise ConfigError(f"device={name!r} is not valid; choices: {', '.join(DEVICE_CHOICES)}")


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed python, numpy and torch (all devices); make cuDNN deterministic (Appendix B.1.3)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        # cuBLAS needs this workspace setting for deterministic matmuls on CUDA >= 10.2.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


@dataclass
class BaseConfig:
    """Fields every study shares. Subclasses add their own fields and ``PRESETS``.

    ``PRESETS`` maps a preset name to a dict of field overrides applied before the command line.
    Override :meth:`validate` for cross-field checks (call ``super().validate()`` first).
    """

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"default": {}}

    seed: int = param(0, "random seed for python, numpy and torch", low=0, high=MAX_SEED)
    device: str = param("auto", "auto (cuda when present, else cpu), cpu, cuda, cuda:N or mps")
    progress: bool = param(True, "show a progress bar on stderr (only when it is a terminal)")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def describe(cls) -> str:
        """One line per key: name, type, default and help (for ``--help`` epilogues)."""
        hints = typing.get_type_hints(cls)
        lines = []
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc, operator]
            lines.append(
                f"  {f.name}={_format(default)}  ({_type_name(hints[f.name])}) {f.metadata.get('help', '')}"
            )
        return "\n".join(lines)

    def validate(self) -> None:
        """Check every field against its type and range; raise :class:`ConfigError` on a violation."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            _check_value(f, hints[f.name], getattr(self, f.name))
        seeds = getattr(self, "seeds", None)
        if seeds is not None:
            if len(set(seeds)) != len(seeds):
                raise ConfigError(f"seeds={','.join(map(str, seeds))} repeats a seed")
            if seeds and self.seed != 0 and tuple(seeds) != (self.seed,):
                raise ConfigError(
                    f"give either seed={self.seed} or seeds={','.join(map(str, seeds))}, not both "
                    f"(seeds is the list of seeds to run: seeds={self.seed} runs seed {self.seed} alone)"
                )

    def inert_keys(self) -> dict[str, Inert]:
        """Keys whose value changes nothing under this configuration's other settings, with what would
        make each act. Giving one of them explicitly as an override is an error (:func:`resolve_config`)."""
        return {}

    def resolved_device(self) -> str:
        """The device this configuration runs on here (``auto`` resolved, :func:`resolve_device`)."""
        return resolve_device(self.device)

    def check_machine(self) -> None:
        """Checks that depend on this machine (CUDA present, …), made when a configuration is resolved to
        run here — not when a saved one is read back (a GPU run may be plotted on a laptop)."""

    @classmethod
    def upgrade(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Rewrite a configuration saved by an older version (``config.json``) into the current keys."""
        return values

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-serializable (tuples become lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


def resolve_config(cls: type[C], preset: str = "default", overrides: list[str] | None = None) -> C:
    """Build ``cls`` from ``cls.PRESETS[preset]`` then ``key=value`` overrides; validate; resolve device.

    Raises :class:`ConfigError` for an unknown preset (listing the presets), an unknown key (listing the
    valid keys), a key given twice, an empty value, a value of the wrong type or outside its range (naming
    the range or choices), and an explicit override that has no effect under the other settings
    (:meth:`BaseConfig.inert_keys`; presets may set such keys). With a ``seeds`` field, an explicit
    ``seed=N`` without ``seeds`` runs seed N alone; both given explicitly is an error.
    """
    presets = getattr(cls, "PRESETS", {"default": {}})
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r} for {cls.__name__}; presets: {', '.join(presets)}")
    hints = typing.get_type_hints(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in presets[preset].items():
        if key not in by_name:
            raise ConfigError(f"preset {preset!r} sets unknown key {key!r}")  # a bug in the preset itself
        values[key] = value
    explicit: dict[str, str] = {}
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key=value; valid keys: {', '.join(by_name)}")
        key, _, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if key not in by_name:
            raise ConfigError(f"unknown key {key!r}; valid keys: {', '.join(by_name)}")
        if key in explicit:
            raise ConfigError(
                f"{key} is given twice ({key}={explicit[key]}, {key}={text}); give each key once"
            )
        if not text:
            raise ConfigError(f"{key}= has no value; give {key}=<{_type_name(hints[key])}>")
        explicit[key] = text
        values[key] = parse_value(key, hints[key], text)
        _check_value(by_name[key], hints[key], values[key], shown=text)  # name the value as it was typed
    if "seeds" in by_name and "seed" in explicit:
        if "seeds" in explicit:
            raise ConfigError(
                f"give either seed={explicit['seed']} or seeds={explicit['seeds']}, not both "
                f"(seeds is the list of seeds to run: seeds={explicit['seed']} "
                f"runs seed {explicit['seed']} alone)"
            )
        values["seeds"] = (values["seed"],)
    cfg = cls(**values)
    cfg.validate()
    bad = {key: why for key, why in cfg.inert_keys().items() if key in explicit}
    if bad:
        raise ineffective_overrides_error(bad)
    if "device" in by_name:
        cfg.device = cfg.resolved_device()  # type: ignore[attr-defined]
    cfg.check_machine()
    return cfg


def parse_value(key: str, tp: Any, text: str) -> Any:
    """Parse ``text`` as a value of type ``tp`` (see the module docstring for the accepted forms)."""
    origin = get_origin(tp)
    if origin is Literal:
        choices = get_args(tp)
        for choice in choices:
            if str(choice) == text:
                return choice
        raise ConfigError(f"{key}={text!r} is not valid; choices: {', '.join(map(str, choices))}")
    if origin in (tuple, list):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        elem = args[0] if args else str
        parts = [p.strip() for p in text.split(",") if p.strip()] if text else []
        if text and not parts:
            raise ConfigError(f"{key}={text!r} lists no values; give comma-separated values")
        parsed: list[Any] = []
        for part in parts:
            if elem is int and RANGE_SEPARATOR in part:
                parsed += _int_range(key, part)
            else:
                parsed.append(parse_value(key, elem, part))
        return tuple(parsed) if origin is tuple else parsed
    if origin in (typing.Union, types.UnionType):
        members = get_args(tp)
        if type(None) in members and text.lower() in ("none", "null", ""):
            return None
        for arg in members:
            if arg is type(None):
                continue
            try:
                return parse_value(key, arg, text)
            except ConfigError:
                continue
        raise ConfigError(f"{key}={text!r} is not valid; give a {_type_name(tp)}")
    if tp is bool:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(f"{key}={text!r} is not a boolean; use one of {', '.join(_TRUE + _FALSE)}")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            pass
        try:  # float notation of a whole number (samples=5e6); the range check then names the valid range
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number) and number == int(number):
            return int(number)
        raise ConfigError(f"{key}={text!r} is not an integer") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{key}={text!r} is not a number") from None
    if tp is str:
        return text
    # a field type we do not support
    raise ConfigError(f"{key}: cannot parse values of type {_type_name(tp)}")


def _int_range(key: str, text: str) -> list[int]:
    """``a..b`` → [a, a+1, …, b] (inclusive)."""
    first, _, last = text.partition(RANGE_SEPARATOR)
    low, high = parse_value(key, int, first.strip()), parse_value(key, int, last.strip())
    if high < low:
        raise ConfigError(f"{key}: range {text!r} is empty; write a..b with a ≤ b (inclusive)")
    return list(range(low, high + 1))


def _check_value(f: dataclasses.Field, tp: Any, value: Any, shown: str | None = None) -> None:
    """Check ``value`` against the type and range of field ``f``; ``shown`` is how messages write the
    value (the text the user typed; default its repr)."""
    origin = get_origin(tp)
    meta = f.metadata
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(
                f"{f.name}={value!r} is not valid; choices: {', '.join(map(str, get_args(tp)))}"
            )
        return
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in get_args(tp):
            return
        inner = [a for a in get_args(tp) if a is not type(None)]
        tp, origin = inner[0], get_origin(inner[0])
    if origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{f.name}={value!r} must be a comma-separated list")
        args = [a for a in get_args(tp) if a is not Ellipsis]
        for item in value:
            _check_scalar(f.name, args[0] if args else object, item, meta, shown)
        return
    _check_scalar(f.name, tp, value, meta, shown)


def _check_scalar(name: str, tp: Any, value: Any, meta: Any, shown: str | None = None) -> None:
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{name}={value!r} must be a boolean")
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{name}={value!r} must be an integer")
    if tp is float and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
    ):
        raise ConfigError(f"{name}={value!r} must be a finite number")
    if tp is str and not isinstance(value, str):
        raise ConfigError(f"{name}={value!r} must be a string")
    low, high = meta.get("low"), meta.get("high")
    if low is None and high is None or not isinstance(value, (int, float)):
        return
    bad_low = low is not None and (value <= low if meta.get("low_open") else value < low)
    bad_high = high is not None and (value >= high if meta.get("high_open") else value > high)
    if bad_low or bad_high:
        text = repr(value) if shown is None else shown
        raise ConfigError(f"{name}={text} is out of range; valid: {_range_text(meta)}")


def _range_text(meta: Any) -> str:
    low, high = meta.get("low"), meta.get("high")
    left = "(" if meta.get("low_open") else "["
    right = ")" if meta.get("high_open") else "]"
    return f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "|".join(map(str, get_args(tp)))
    if origin in (typing.Union, types.UnionType):
        return " or ".join("none" if a is type(None) else _type_name(a) for a in get_args(tp))
    if origin in (tuple, list):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        return f"comma-separated {args[0].__name__ if args else 'values'}"
    return getattr(tp, "__name__", str(tp))


def _format(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def config_from_dict(cls: type[C], values: dict[str, Any]) -> C:
    """Rebuild a configuration saved by ``to_dict`` (e.g. a run's ``config.json``) and validate it.

    Lists become tuples where the field is a tuple; keys of older versions are rewritten by
    :meth:`BaseConfig.upgrade`; an unknown key is a :class:`ConfigError`.
    """
    values = cls.upgrade(dict(values))
    hints = typing.get_type_hints(cls)
    names = cls.field_names()
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(
            f"unknown keys {', '.join(unknown)} for {cls.__name__}; valid keys: {', '.join(names)}"
        )
    converted = {}
    for key, value in values.items():
        tp = hints[key]
        inner = (
            [a for a in get_args(tp) if a is not type(None)]
            if get_origin(tp) in (typing.Union, types.UnionType)
            else [tp]
        )
        if isinstance(value, list) and any(get_origin(t) is tuple for t in inner):
            value = tuple(value)
        converted[key] = value
    cfg = cls(**converted)
    cfg.validate()
    return cfg


def image_study_inert_keys(cfg: Any) -> dict[str, Inert]:
    """Keys of the image studies (cloning, continual) that have no effect under the other settings:
    ``data_dir``/``download`` with synthetic data, the ``synthetic_*`` keys with a real dataset,
    ``patch_size`` unless ``arch=vit``, ``affine`` with ``normalization=none`` and ``pin_memory`` off CUDA."""
    out: dict[str, Inert] = {}
    if cfg.dataset == "synthetic":
        out |= inert(("data_dir", "download"), "a dataset other than synthetic", "dataset=synthetic")
    else:
        synthetic = [f for f in cfg.field_names() if f.startswith("synthetic_")]
        out |= inert(synthetic, "dataset=synthetic", f"dataset={cfg.dataset}")
    if cfg.arch != "vit":
        out |= inert(("patch_size",), "arch=vit", f"arch={cfg.arch}")
    if hasattr(cfg, "affine") and cfg.normalization == "none":
        out |= inert(("affine",), "a normalization other than none", "normalization=none")
    device = resolve_device(cfg.device) if cfg.device == "auto" else cfg.device
    if not device.startswith("cuda"):
        out |= inert(("pin_memory",), "a CUDA device", f"device={device}")
    return out


def check_image_study_machine(cfg: Any) -> None:
    """The image studies' machine checks: ``amp=fp16`` needs CUDA. Raises :class:`ConfigError`."""
    if cfg.amp == "fp16" and not torch.cuda.is_available():
        raise ConfigError("amp=fp16 needs CUDA (use bf16 on CPU)")


def check_image_study_options(cfg: Any) -> None:
    """Cross-field checks shared by the image studies (cloning, continual): ``dataset``/``synthetic_shape``,
    ``amp`` and ``activation`` fields. Raises :class:`ConfigError`."""
    from theory.activations import get_activation

    if cfg.dataset == "synthetic" and len(cfg.synthetic_shape) != 3:
        raise ConfigError(f"synthetic_shape must be C,H,W, got {cfg.synthetic_shape}")
    if cfg.activation != "default":
        try:
            get_activation(cfg.activation)
        except ValueError as err:
            raise ConfigError(f"activation={cfg.activation!r}: {err}") from None
