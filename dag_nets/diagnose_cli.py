"""``python -m dag_nets diagnose CHECKPOINT --model MODULE:FACTORY --data FILE`` (:mod:`dag_nets.diagnose`).

* ``--model MODULE:FACTORY``: an importable module and a function in it that takes no arguments and returns
  the ``torch.nn.Module`` (the checkpoint's parameters are then loaded into it, strictly).
* ``CHECKPOINT``: a ``torch.save`` file (read with ``weights_only=True``) holding the model's ``state_dict``,
  or a dict with the ``state_dict`` under ``"model"`` and optionally the optimizer's ``state_dict`` under
  ``"optimizer"``; with ``--optimizer CLASS`` (a ``torch.optim`` class) that state, hyperparameters included,
  is loaded into a new optimizer of that class and the frozen units are checked against it.
* ``--data FILE``: ``.pt`` (``torch.save`` of a dict with ``"x"`` and optionally ``"y"``, a pair (x, y) or a
  tensor x) or ``.npz`` (arrays ``x`` and optionally ``y``). Without y the manifold step is skipped.

The model is put in eval mode (the diagnosis is of the deterministic network). Prints the table, or with
``--json`` the JSON of :meth:`Diagnosis.to_dict`; ``--figure PATH`` writes the figure (never over a file).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dag_nets.diagnose import METHODS, diagnose
from dag_nets.graph import LOSSES

OPTIMIZERS = ("SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta")
"""``--optimizer`` choices: the torch.optim classes whose state_dict restores their hyperparameters."""


class InputError(ValueError):
    """A file or argument the command cannot use (printed as one line, exit status 2)."""


def add_parser(sub: Any) -> None:
    """Register the ``diagnose`` subcommand on the CLI's subparsers."""
    d = sub.add_parser("diagnose", help="frozen units, clone blocks and their stability for a torch model")
    d.add_argument(
        "checkpoint", type=Path, help="torch.save file of the state_dict (or {'model', 'optimizer'})"
    )
    d.add_argument(
        "--model", required=True, help="MODULE:FACTORY, a no-argument function returning the module"
    )
    d.add_argument("--data", type=Path, required=True, help=".pt or .npz file with x (and y)")
    d.add_argument("--part", default=None, help="diagnose only this submodule (e.g. the MLP head)")
    d.add_argument("--loss", choices=tuple(LOSSES), default="mse")
    d.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default=None,
        help="torch.optim class of the checkpoint's optimizer state",
    )
    d.add_argument(
        "--tol", type=float, default=None, help="clone tolerance (default: chosen from the weights)"
    )
    d.add_argument("--frozen-tol", type=float, default=0.0, help="|f′| at most this counts as 0")
    d.add_argument("--method", choices=METHODS, default="auto")
    d.add_argument("--k", type=int, default=3, help="extremes per end for Lanczos")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--json", action="store_true", help="print JSON instead of the table")
    d.add_argument("--figure", type=Path, default=None, help="new PNG file for the figure")
    d.add_argument("--debug", action="store_true", help="show a traceback on errors")


def load_factory(spec: str) -> nn.Module:
    """The module built by ``MODULE:FACTORY``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InputError(
            f"argument --model: expected MODULE:FACTORY (e.g. mypkg.models:make_mlp), got {spec!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise InputError(f"argument --model: cannot import {module_name!r} ({err})") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise InputError(f"argument --model: {module_name!r} has no function {attr!r}")
    model = factory()
    if not isinstance(model, nn.Module):
        raise InputError(f"argument --model: {spec} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _torch_load(path: Path, what: str) -> Any:
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist or is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- a damaged or foreign file fails in many ways (pickle, zip, …)
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise InputError(
            f"{what} {path} is not a readable torch.save file ({type(err).__name__}: {first})"
        ) from None


def _is_state_dict(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and bool(obj)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def load_checkpoint(path: Path) -> tuple[Mapping[str, torch.Tensor], Mapping[str, Any] | None]:
    """(model state_dict, optimizer state_dict or None) from ``path`` (module docstring)."""
    obj = _torch_load(path, "checkpoint")
    if _is_state_dict(obj):
        return obj, None
    if isinstance(obj, Mapping) and _is_state_dict(obj.get("model")):
        optimizer = obj.get("optimizer")
        if optimizer is not None and not isinstance(optimizer, Mapping):
            raise InputError(f"checkpoint {path}: 'optimizer' must be an optimizer state_dict")
        return obj["model"], optimizer
    raise InputError(
        f"checkpoint {path} holds neither a state_dict nor a dict with a state_dict under 'model'"
    )


def load_data(path: Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(x, y or None) from a .pt or .npz file (module docstring)."""
    if path.suffix == ".npz":
        if not path.is_file():
            raise InputError(f"data file {path} does not exist or is not a file")
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except Exception as err:  # noqa: BLE001 -- numpy raises several types for a damaged archive
            raise InputError(
                f"data file {path} is not a readable .npz ({type(err).__name__}: {err})"
            ) from None
        if "x" not in arrays:
            raise InputError(f"data file {path} has no array 'x' (it has {', '.join(arrays) or 'none'})")
        x, y = torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["y"]) if "y" in arrays else None
    elif path.suffix in (".pt", ".pth"):
        obj = _torch_load(path, "data file")
        if isinstance(obj, torch.Tensor):
            x, y = obj, None
        elif isinstance(obj, (tuple, list)) and len(obj) == 2:
            x, y = obj
        elif isinstance(obj, Mapping) and "x" in obj:
            x, y = obj["x"], obj.get("y")
        else:
            raise InputError(
                f"data file {path} must hold a tensor x, a pair (x, y) or a dict with 'x' (and 'y')"
            )
    else:
        raise InputError(f"data file {path}: unknown format {path.suffix!r}; valid: .pt, .pth, .npz")
    if not isinstance(x, torch.Tensor) or (y is not None and not isinstance(y, torch.Tensor)):
        raise InputError(f"data file {path}: x and y must be tensors")
    if not x.dtype.is_floating_point:
        raise InputError(f"data file {path}: x must be floating point, got {x.dtype}")
    if y is not None and y.shape[0] != x.shape[0]:
        raise InputError(f"data file {path}: x has {x.shape[0]} examples, y has {y.shape[0]}")
    return x, y


def _strict_json(obj: Any) -> Any:
    """``obj`` with non-finite floats (the NaN of a skipped step) as null, so the output is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: _strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict_json(v) for v in obj]
    return obj


def _dtype(model: nn.Module) -> torch.dtype:
    first = next(iter(model.parameters()), None)
    return torch.float32 if first is None else first.dtype


def _check(args: argparse.Namespace) -> None:
    if args.tol is not None and not (math.isfinite(args.tol) and args.tol >= 0):
        raise InputError(f"argument --tol: must be a finite number ≥ 0, got {args.tol}")
    if not (math.isfinite(args.frozen_tol) and args.frozen_tol >= 0):
        raise InputError(f"argument --frozen-tol: must be a finite number ≥ 0, got {args.frozen_tol}")
    if args.k < 1:
        raise InputError(f"argument --k: must be ≥ 1, got {args.k}")
    if args.figure is not None:
        if args.figure.exists():
            raise InputError(
                f"argument --figure: {args.figure} exists (runs never overwrite an earlier figure)"
            )
        if not args.figure.parent.is_dir():
            raise InputError(f"argument --figure: directory {args.figure.parent} does not exist")


def diagnose_command(args: argparse.Namespace) -> int:
    _check(args)
    state, opt_state = load_checkpoint(args.checkpoint)
    x, y = load_data(args.data)
    model = load_factory(args.model)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        lines = [ln.strip() for ln in str(err).splitlines()[1:3]]
        raise InputError(
            f"checkpoint {args.checkpoint} does not fit {args.model}: {' '.join(lines)}"
        ) from None
    if missing or unexpected:
        raise InputError(
            f"checkpoint {args.checkpoint} does not fit {args.model}: missing {list(missing)[:10]}, "
            f"unexpected {list(unexpected)[:10]}"
        )
    model.eval()
    optimizer = None
    if opt_state is not None and args.optimizer is None:
        raise InputError(
            f"checkpoint {args.checkpoint} holds optimizer state: pass --optimizer CLASS (one of "
            f"{', '.join(OPTIMIZERS)}) to check the frozen units against it"
        )
    if args.optimizer is not None:
        if opt_state is None:
            raise InputError(f"argument --optimizer: checkpoint {args.checkpoint} has no 'optimizer' state")
        optimizer = getattr(torch.optim, args.optimizer)(model.parameters())
        try:
            optimizer.load_state_dict(opt_state)
        except (ValueError, KeyError, RuntimeError) as err:
            raise InputError(
                f"checkpoint {args.checkpoint}: the optimizer state does not fit {args.optimizer} on "
                f"this model ({err})"
            ) from None
    d = diagnose(
        model,
        x.to(_dtype(model)),
        y,
        loss=args.loss,
        optimizer=optimizer,
        part=args.part,
        tol=args.tol,
        frozen_tol=args.frozen_tol,
        method=args.method,
        k=args.k,
        seed=args.seed,
    )
    if args.json:
        json.dump(_strict_json(d.to_dict()), sys.stdout, indent=1, allow_nan=False)
        print()
    else:
        print(d.table())
    if args.figure is not None:
        d.plot(args.figure)
        if not args.json:
            print(f"wrote {args.figure}")
    return 0
