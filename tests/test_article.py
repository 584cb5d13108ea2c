"""The article's numbers, reproduced on every engine (float32) and in float64."""

import numpy as np
import pytest

import nnlib as nn
from article import DRAFT_COSTS, FIXED_COSTS, reference_costs, run_article
from conftest import engine


def test_untrained_output_is_the_articles_0_44(float_engine):
    untrained, *_ = run_article(float_engine)
    np.testing.assert_allclose(untrained, [[0.4352126, 0.4352126]], rtol=1e-6)
    assert [f"{a:.2f}" for a in untrained.ravel()] == ["0.44", "0.44"]   # as the article prints it


def test_fixed_costs_match_the_article(float_engine):
    _, costs, trained, inputs = run_article(float_engine)
    # float32 on both sides, different BLAS: the first three agree to ~6 digits
    np.testing.assert_allclose(costs[:3], FIXED_COSTS[:3], rtol=3e-5)
    # the last is float32 rounding noise (a - y is ~2.5e-6, near the float32 spacing at 0.5)
    assert 3e-12 < costs[3] < 1.2e-11
    assert [f"{a:.2f}" for a in trained.ravel()] == ["0.50", "0.50"]
    np.testing.assert_array_equal(inputs, np.array([[0.3, 0.3], [0.9, 0.9]], dtype=inputs.dtype))


def test_draft_costs_match_the_article_and_destroy_the_inputs(float_engine):
    _, costs, trained, inputs = run_article(float_engine, draft=True)
    np.testing.assert_allclose(costs[:3], DRAFT_COSTS[:3], rtol=3e-5)
    np.testing.assert_allclose(costs[3], DRAFT_COSTS[3], rtol=1e-2)
    assert [f"{a:.2f}" for a in trained.ravel()] == ["0.50", "0.50"]
    assert np.abs(inputs).max() < 1e-3       # the article prints 0.00 for every input


def test_float64_agrees_with_the_article_up_to_float32_rounding():
    _, costs, _, _ = run_article(engine("native_double"))
    np.testing.assert_allclose(costs[:3], FIXED_COSTS[:3], rtol=1e-5)
    assert 3e-12 < costs[3] < 1.2e-11
    _, costs32, _, _ = run_article(engine("native_float"))
    np.testing.assert_allclose(costs32[:3], costs[:3], rtol=1e-5)


def test_float32_engines_agree_with_each_other(float_engine):
    untrained, costs, trained, inputs = run_article(float_engine)
    ref_untrained, ref_costs, ref_trained, ref_inputs = run_article(engine("native_float"))
    np.testing.assert_allclose(costs[:3], ref_costs[:3], rtol=1e-4)
    pairs = ((untrained, ref_untrained), (trained, ref_trained), (inputs, ref_inputs))
    for mine, reference in pairs:
        np.testing.assert_allclose(mine, reference, rtol=1e-5)


def test_independent_float64_reference_reproduces_the_article_with_its_bias_sign():
    np.testing.assert_allclose(reference_costs(bias_sign=-1.0)[:3], FIXED_COSTS[:3], rtol=1e-5)


def test_package_bias_step_matches_the_independent_reference():
    _, costs, _, inputs = run_article(engine("native_double"), article_bias=False)
    expected = reference_costs(bias_sign=1.0)
    np.testing.assert_allclose(costs[:3], expected[:3], rtol=1e-9)
    assert costs[3] < 1e-25 and expected[3] < 1e-25
    # the corrected step learns faster than the article's: about 77x lower cost after 200 epochs
    assert costs[2] < FIXED_COSTS[2] / 50


def test_package_bias_step_on_every_float32_engine(float_engine):
    _, costs, trained, _ = run_article(float_engine, article_bias=False)
    np.testing.assert_allclose(costs[:3], reference_costs(bias_sign=1.0)[:3], rtol=1e-4)
    assert costs[3] < 1e-11
