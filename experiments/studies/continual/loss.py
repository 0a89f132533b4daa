"""The continual study's loss: cross-entropy masked to the current task's classes (Appendix B.1.1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, classes: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, predictions). With ``classes`` (the current task's class ids) the softmax runs over those
    logits only, L = −log softmax(z_C)_y, so the other logits get zero gradient, and a prediction is the
    arg-max over C; without, ordinary cross-entropy and arg-max over all classes. Half-precision logits
    (autocast) are promoted to float32 first."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    if classes is None:
        return F.cross_entropy(logits, targets), logits.argmax(1)
    position = torch.full((logits.shape[1],), -1, dtype=torch.long, device=logits.device)
    position[classes] = torch.arange(len(classes), device=logits.device)
    local = position[targets]
    if bool((local < 0).any()):
        raise ValueError("a target is not one of the task's classes")
    task_logits = logits[:, classes]
    return F.cross_entropy(task_logits, local), classes[task_logits.argmax(1)]
