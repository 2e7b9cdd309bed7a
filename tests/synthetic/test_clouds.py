"""Cloud optics of the generator: the two opacity models and their common labelling rule."""

from __future__ import annotations

import numpy as np
import pytest

from dfmask_lib.synthetic.clouds import (ASYMMETRY_G, CLOUD_MODELS, CLOUD_SPECS, TAU_CLOUD,
                                         label_tau, opacity)


def test_beer_lambert_is_the_direct_beam():
    tau = np.array([0.0, 0.5, 2.0, 40.0], np.float32)
    a = opacity(tau)
    assert a.dtype == np.float32
    np.testing.assert_allclose(a, 1.0 - np.exp(-tau), rtol=1e-6)
    assert a[-1] == pytest.approx(1.0)  # a cumulus core hides the ground completely


def test_two_stream_lets_the_surface_through_thick_cloud():
    # Bohren (1987) eq. 14: T = 1 / (1 + (1 - g) tau / 2); with g = 0.85 a tau-20 cumulus still
    # transmits 40 % of the light, a tau-120 core 10 %.
    assert ASYMMETRY_G == 0.85
    a = opacity(np.array([0.0, 20.0, 120.0], np.float32), "two_stream")
    np.testing.assert_allclose(a, [0.0, 0.6, 0.9], atol=1e-6)
    assert (np.diff(opacity(np.linspace(0, 200, 50), "two_stream")) > 0).all()
    with pytest.raises(ValueError, match="cloud model"):
        opacity(np.ones(2), "mie")


def test_both_models_label_the_same_visible_share():
    assert label_tau(TAU_CLOUD, "beer_lambert") == TAU_CLOUD
    t = label_tau(TAU_CLOUD, "two_stream")
    assert t == pytest.approx(2 * (np.exp(0.5) - 1) / 0.15) == pytest.approx(8.650, abs=1e-3)
    assert float(opacity(np.float32(t), "two_stream")) == pytest.approx(
        float(opacity(np.float32(TAU_CLOUD))), abs=1e-6)


def test_every_cloud_type_has_a_range_for_each_model():
    assert CLOUD_MODELS == ("beer_lambert", "two_stream")
    for spec in CLOUD_SPECS.values():
        assert 0 < spec.tau[0] < spec.tau[1]
        assert 0 < spec.tau_two_stream[0] < spec.tau_two_stream[1]
    # thick types reach the labelling thickness, so two-stream cumulus and stratus get labelled
    assert CLOUD_SPECS["cumulus"].tau_two_stream[1] > label_tau(TAU_CLOUD, "two_stream")


def test_transmission_is_exact_for_the_direct_beam():
    # bit-exact exp(-tau): the polar scenes (Beer-Lambert shadows) keep their bytes
    from dfmask_lib.synthetic.clouds import transmission

    tau = np.array([0.0, 0.5, 8.0, 17.0, 40.0], np.float32)
    np.testing.assert_array_equal(transmission(tau), np.exp(-tau))
    assert transmission(tau)[-1] > 0  # 1 - opacity would round deep shadow to 0
    np.testing.assert_allclose(transmission(tau, "two_stream") + opacity(tau, "two_stream"), 1.0,
                               rtol=1e-6)
