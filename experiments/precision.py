"""Mixed precision for the paper-scale presets (Appendix B.1.3 runs on GPUs).

``amp`` is a config value: ``off`` (full precision), ``bf16``, ``fp16`` (CUDA only, with a gradient
scaler in the study) or ``auto`` (bfloat16 autocast on CUDA when the device supports it, else off).
The CPU path (bfloat16 autocast) is what the tests exercise where no GPU is present.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

AMP_CHOICES: tuple[str, ...] = ("auto", "off", "bf16", "fp16")


def resolve_amp(amp: str, device: str) -> torch.dtype | None:
    """The autocast dtype, or None for full precision (auto: bfloat16 on CUDA when supported)."""
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp={amp!r} is not valid; choices: {', '.join(AMP_CHOICES)}")
    if amp == "off":
        return None
    if amp == "auto":
        return torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if amp == "bf16" else torch.float16


def autocast(device: str, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on the device's type with ``dtype``, or a no-op for full precision."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=dtype)


@dataclass(frozen=True)
class Precision:
    """Where and in which precision a study computes: the device and the autocast dtype (None: full
    precision). fp16 needs a gradient scaler, which holds training state (:meth:`new_scaler`)."""

    device: str
    dtype: torch.dtype | None

    @classmethod
    def resolve(cls, amp: str, device: str) -> Precision:
        return cls(device, resolve_amp(amp, device))

    def autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.dtype)

    def new_scaler(self) -> torch.amp.GradScaler | None:
        """A fresh gradient scaler for fp16 autocast, None otherwise."""
        return torch.amp.GradScaler("cuda") if self.dtype == torch.float16 else None
