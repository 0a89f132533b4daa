"""Vision Transformer of Appendix B.1.3: P×P patch embedding, class token, learned position embedding,
pre-norm blocks x + attn(norm(x)), x + mlp(norm(x)), final norm, linear head on the class token.

Attention is written out (q, k, v as separate linear maps; ``attn_drop`` applied to the softmax
probabilities) so every intermediate is a module output a hook can see. ``scale`` is stored on the
module: the clone keeps the base's 1/sqrt(d_head) (cloning duplicates heads, never the head dimension).
"""

from __future__ import annotations

import torch
from torch import nn

from experiments.models.layers import Elementwise, make_norm
from experiments.models.spec import ModelSpec

POSITION_INIT_STD = 0.02


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int, attn_dropout: float, dropout: float) -> None:
        super().__init__()
        if dim != heads * head_dim:
            raise ValueError(f"dim={dim} must equal heads×head_dim={heads}×{head_dim}")
        self.heads, self.head_dim = heads, head_dim
        self.scale = head_dim**-0.5
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.softmax = nn.Softmax(dim=-1)
        self.attn_drop = nn.Dropout(attn_dropout)
        self.out = nn.Linear(dim, dim)
        self.out_drop = nn.Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)  # [B, H, N, d_head]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        probs = self.attn_drop(self.softmax((q @ k.transpose(-2, -1)) * self.scale))
        mixed = (probs @ v).transpose(1, 2).reshape(x.shape[0], x.shape[1], self.heads * self.head_dim)
        return self.out_drop(self.out(mixed))


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, hidden: int, activation: str, dropout: float) -> None:
        super().__init__(
            nn.Linear(dim, hidden),
            Elementwise(activation),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )


class TransformerBlock(nn.Module):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        heads, head_dim = spec.size("heads"), spec.size("head_dim")
        dim = heads * head_dim
        self.norm1 = make_norm(spec.normalization, dim, "tokens", spec.affine, spec.groups)
        self.attn = Attention(dim, heads, head_dim, spec.size("attn_dropout"), spec.dropout)
        self.norm2 = make_norm(spec.normalization, dim, "tokens", spec.affine, spec.groups)
        self.mlp = FeedForward(dim, spec.size("mlp_hidden"), spec.activation, spec.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """[B, C, H, W] → [B, N, D] by a P×P, stride-P convolution."""

    def __init__(self, in_ch: int, dim: int, patch: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_ch, dim, patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class ViT(nn.Module):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        in_ch, height, width = spec.input_shape
        patch, heads, head_dim = spec.size("patch_size"), spec.size("heads"), spec.size("head_dim")
        dim = heads * head_dim
        num_patches = (height // patch) * (width // patch)
        self.patch_embed = PatchEmbed(in_ch, dim, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 1, dim) * POSITION_INIT_STD)
        self.embed_drop = nn.Dropout(spec.dropout)
        self.blocks = nn.Sequential(*[TransformerBlock(spec) for _ in range(spec.size("depth"))])
        self.norm = make_norm(spec.normalization, dim, "tokens", spec.affine, spec.groups)
        self.head = nn.Linear(dim, spec.num_classes)
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(x)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        tokens = self.embed_drop(torch.cat([cls, tokens], dim=1) + self.pos_embed)
        return self.head(self.norm(self.blocks(tokens))[:, 0])
