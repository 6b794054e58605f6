"""The demo's variants: demand bent away from the forecast's shape, deterministic by seed."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from orchestration.lib.demo import generate
from orchestration.lib.demo.presets import preset_named
from orchestration.lib.demo.variants import BRAND_DAYS, VARIANTS, festival_setting
from orchestration.lib.demo.world import build_world
from orchestration.lib.lake import LakeStore


def _lines(variant: str, preset: str = "small") -> np.ndarray:
    """Expected order lines per day (rows) and SKU (columns)."""
    world = build_world(preset_named(preset), 7, variant)
    return np.array([world.expected_lines(d) * world.sku_share(d) for d in world.days])


@pytest.mark.parametrize("variant", VARIANTS[1:])
def test_a_variant_keeps_the_volume_and_moves_the_demand(variant):
    baseline, bent = _lines("baseline"), _lines(variant)
    assert bent.sum() == pytest.approx(baseline.sum(), rel=1e-9)
    assert not np.allclose(bent, baseline)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_variant_is_the_same_for_the_same_seed(variant):
    assert np.array_equal(_lines(variant), _lines(variant))


def test_an_unknown_variant_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="promotions"):
        build_world(preset_named("tiny"), 7, "lunar")


def test_the_brand_day_sells_a_multiple_of_its_neighbours():
    world = build_world(preset_named("small"), 7, "moving_festival")
    peak = BRAND_DAYS[2026]
    week_after = date.fromordinal(peak.toordinal() + 7)  # the week before is 11.11
    assert world.expected_lines(peak) > 2.5 * world.expected_lines(week_after)
    assert "brand_day:2026-11-18:" in festival_setting()


def test_trend_breaks_step_some_skus_up_and_others_down():
    ratio = _lines("trend_breaks")[-7:].sum(axis=0) / _lines("baseline")[-7:].sum(axis=0)
    assert (ratio > 1.4).any() and (ratio < 0.7).any()


def test_intermittent_sells_most_skus_on_few_days():
    lines = _lines("intermittent")
    assert (lines.mean(axis=0) < 0.5).mean() > 0.4  # under one line every other day


def test_new_skus_launch_in_the_last_ten_weeks():
    world = build_world(preset_named("small"), 7, "new_skus")
    late = world.launch >= len(world.days) - 70
    assert late.mean() > 0.25


def test_promotions_cut_prices_for_a_few_days_and_change_some_for_good(tmp_path):
    store = LakeStore(str(tmp_path / "lake"))
    result = generate(store, preset="tiny", variant="promotions")
    assert result.truth["variant"] == "promotions"
    world = build_world(preset_named("tiny"), 7, "promotions")
    factors = np.array([world.price_factor(d) for d in world.days])
    assert factors.min() < 0.85 and factors.max() > 1.05
