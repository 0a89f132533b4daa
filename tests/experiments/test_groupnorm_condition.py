"""The exact condition for GroupNorm with duplicated (γ, β) to preserve cloning
(experiments.cloning.groupnorm): both directions, on random and constructed layouts, torch's nn.GroupNorm
against the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from experiments.cloning.expand import _check_groups
from experiments.cloning.groupnorm import group_cover, numpy_group_norm
from experiments.cloning.profile import Profile

EXACT = 1e-12
BROKEN = 1e-6
EPS = 1e-5


def _deviation(profile: Profile, groups: int, clone_groups: int, seed: int) -> float:
    """Relative deviation of the clone GroupNorm from the base (numpy reference, random x, γ, β)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, profile.n_base, 2, 3))
    weight, bias = rng.standard_normal(profile.n_base) + 2.0, rng.standard_normal(profile.n_base)
    idx = profile.index.numpy()
    ref = numpy_group_norm(x, groups, weight, bias, EPS)[:, idx]
    wide = numpy_group_norm(x[:, idx], clone_groups, weight[idx], bias[idx], EPS)
    return float(np.abs(wide - ref).max() / np.abs(ref).max())


def test_numpy_reference_matches_torch_group_norm() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 3, 3, generator=g, dtype=torch.float64)
    norm = torch.nn.GroupNorm(3, 6).double()
    with torch.no_grad():
        norm.weight.normal_(generator=g)
        norm.bias.normal_(generator=g)
        expected = norm(x).numpy()
    got = numpy_group_norm(x.numpy(), 3, norm.weight.detach().numpy(), norm.bias.detach().numpy(), norm.eps)
    assert np.abs(got - expected).max() < 1e-14


@st.composite
def covering_layouts(draw):
    """A clone whose every group is a uniform cover of one base group (random groups, order, multiplicity)."""
    groups, size = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    copies, clone_groups = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    # every base group used
    chosen = list(range(groups)) + [int(g) for g in rng.integers(0, groups, clone_groups)]
    index = []
    for g in chosen:
        members = np.repeat(np.arange(g * size, (g + 1) * size), copies)
        index.extend(rng.permutation(members).tolist())
    return Profile(torch.tensor(index), groups * size), groups, len(chosen)


@st.composite
def random_layouts(draw):
    """An arbitrary surjective profile and any clone group count that divides the clone width."""
    groups, size = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n_base = groups * size
    extra = draw(st.lists(st.integers(0, n_base - 1), min_size=0, max_size=8))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    index = rng.permutation(np.array(list(range(n_base)) + extra))
    n_clone = len(index)
    clone_groups = draw(st.sampled_from([d for d in range(1, n_clone + 1) if n_clone % d == 0]))
    return Profile(torch.tensor(index.tolist()), n_base), groups, clone_groups


@given(covering_layouts(), st.integers(0, 100))
def test_every_uniform_cover_reproduces_the_base(layout, seed: int) -> None:
    profile, groups, clone_groups = layout
    assert group_cover(profile, groups, clone_groups).exact
    assert _deviation(profile, groups, clone_groups, seed) < EXACT


@given(random_layouts(), st.integers(0, 100))
def test_the_condition_decides_exactness_both_ways(layout, seed: int) -> None:
    profile, groups, clone_groups = layout
    cover = group_cover(profile, groups, clone_groups)
    deviation = _deviation(profile, groups, clone_groups, seed)
    if cover.exact:
        assert deviation < EXACT
    else:
        assert deviation > BROKEN, cover.why_not()


@pytest.mark.parametrize(
    "index, groups, clone_groups, exact",
    [
        # block after block with twice the groups: no group holds a whole block
        (list(range(8)) * 2, 2, 4, True),
        (list(range(8)) * 2, 2, 2, False),  # ... with the base's groups: each clone group mixes base groups
        ([i // 2 for i in range(16)], 2, 2, True),  # adjacent copies, same G
        # adjacent copies, twice the groups: half a base group each
        ([i // 2 for i in range(16)], 2, 4, False),
        ([0, 1, 0, 1, 0, 1, 2, 3], 2, 4, True),  # unequal clone factors, each group one copy of a base group
        ([0, 0, 1, 2, 3, 3], 1, 1, False),  # LayerNorm-like with unequal factors
    ],
)
def test_named_layouts(index, groups, clone_groups, exact) -> None:
    profile = Profile(torch.tensor(index), max(index) + 1)
    assert group_cover(profile, groups, clone_groups).exact is exact
    assert (_deviation(profile, groups, clone_groups, 0) < EXACT) is exact


def test_bad_group_counts_are_rejected() -> None:
    profile = Profile.interleaved(4, 2)
    with pytest.raises(ValueError, match="positive integer dividing 4"):
        group_cover(profile, 3, 2)
    with pytest.raises(ValueError, match="positive integer dividing 8"):
        group_cover(profile, 2, 0)


def test_expand_keeps_refusing_a_groupnorm_that_would_not_be_exact() -> None:
    _check_groups("norm", 2, Profile.interleaved(8, 2))  # the layout expand builds: exact
    with pytest.raises(ValueError, match="mixes base groups"):
        _check_groups("norm", 2, Profile(torch.arange(16) % 8, 8))
