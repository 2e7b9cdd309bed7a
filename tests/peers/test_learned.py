"""The learned peers: s2cloudless, ukis-csmask 1.0.0 and 0.2.1 on real chips; the external ones.

The optional packages are skipped with their reason when missing (never a failure). Numbers
were measured on 2026-12-01 (s2cloudless 1.7.3 / lightgbm 4.7.0, ukis-csmask 1.0.0,
onnxruntime 1.32.0, one thread). The ukis chip is ukis-csmask's own test fixture, so its
scores are optimistic; it is used here as a fixture only.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from conftest import fetch_real
from dfmask_lib import registry
from dfmask_lib.classes import CLEAR, CLOUD, NODATA, SHADOW, UKIS_CSMASK, recode
from dfmask_lib.errors import BandError, DataFileError, MissingDataError
from dfmask_lib.metrics import confusion_matrix, scores
from dfmask_lib.peers import PEERS, Peer, PeerUnavailable, check_output
from dfmask_lib.peers.external import (CloudSEN12, KappaMask, OmniCloudMask, SEnSeIv2,
                                       FOUR_CLASS_TO_PROJECT)
from dfmask_lib.peers.s2cloudless import S2Cloudless
from dfmask_lib.peers.ukis import (UKIS_021_MODEL, UKIS_BANDS, UkisCsmask, UkisCsmask021,
                                   load_021_session)

UKIS_CHIP = "ukis_csmask_chip/sentinel2.npz"
BETSIBOKA = "s2cloudless_betsiboka/input_arrays.npz"
MODEL_4B = "ukis_csmask_021/model_4b.onnx"
MODEL_6B_SHA256 = "abd33028e9e9218522778bbcbc627177c6451f795989c82414f37adb6f673a66"
LEARNED = ("s2cloudless", "ukis-csmask", "ukis-csmask-0.2.1", "omnicloudmask", "cloudsen12",
           "senseiv2", "kappamask")


def _array_scene(img, *, resolution, bands=None):
    from dfmask_lib.fmask.product import array_scene

    kw = {} if bands is None else {"band_names": bands}
    return array_scene(img, resolution=resolution, sun_zenith=40.0, sun_azimuth=150.0, **kw)


@pytest.fixture(scope="module")
def ukis_chip():
    """(Scene at 10 m with bands B02 B03 B04 B08 B11 B12, truth in project codes)."""
    data = np.load(fetch_real(UKIS_CHIP))
    assert sorted(data.files) == ["img", "msk"]
    img, msk = data["img"], data["msk"]
    assert img.shape == (512, 512, 6) and img.dtype == np.float32
    assert msk.shape == (512, 512, 1) and msk.dtype == np.uint8
    return _array_scene(img, resolution=10, bands=UKIS_BANDS), recode(msk[..., 0], UKIS_CSMASK)


@pytest.fixture(scope="module")
def betsiboka():
    """(Scene at 60 m with all 13 bands, s2cloudless's reference cloud mask)."""
    data = np.load(fetch_real(BETSIBOKA))
    return _array_scene(data["s2_im"], resolution=60), data["cl_mask"][0]


def _model(name: str):
    """A registered 0.2.1 model file, or a skip with the reason when it cannot be obtained."""
    try:
        return registry.fetch(name)
    except MissingDataError as exc:  # offline and not cached yet: fetch once online
        pytest.skip(f"the ukis-csmask 0.2.1 model is not available offline: {exc}")


# ------------------------------------------------------------------------------ the registry


def test_every_learned_peer_is_registered_and_importable_without_its_package():
    for name in LEARNED:
        assert issubclass(PEERS[name], Peer) and PEERS[name].name == name
        reason = PEERS[name]().unavailable()
        assert reason is None or ("\n" not in reason and len(reason) > 20)


def test_background_is_allowed_only_where_declared(ukis_chip):
    scene, _ = ukis_chip
    ones = np.ones(scene.shape, np.uint8)
    assert (check_output(ones, scene, frozenset({CLOUD}), "x", background=CLEAR) == 1).all()
    with pytest.raises(BandError, match=r"codes \[1\] outside the classes it claims \[2\]"):
        check_output(ones, scene, frozenset({CLOUD}), "x")
    assert S2Cloudless.background == UkisCsmask.background == CLEAR
    assert UkisCsmask021.background is None


# ------------------------------------------------------------------------------ s2cloudless


def test_s2cloudless_reproduces_the_betsiboka_reference_exactly(betsiboka):
    pytest.importorskip("s2cloudless", reason="s2cloudless not installed: pip install "
                        '"dfmask[peers]"')
    scene, reference = betsiboka
    out = S2Cloudless(threads=1).predict(scene)
    assert out.dtype == np.uint8 and out.shape == (856, 512)
    assert set(np.unique(out)) == {NODATA, CLEAR, CLOUD}
    assert int((out == NODATA).sum()) == int((~scene.valid).sum()) == 6
    assert int((out == CLOUD).sum()) == int(reference.sum()) == 200014
    np.testing.assert_array_equal(out == CLOUD, reference == 1)


def test_s2cloudless_cannot_run_on_the_ukis_chip(ukis_chip):
    scene, _ = ukis_chip
    reason = S2Cloudless().unavailable(scene)
    assert reason is not None and "B01, B05, B8A, B09, B10" in reason
    with pytest.raises(PeerUnavailable, match="needs bands B01, B05, B8A, B09, B10"):
        S2Cloudless().predict(scene)


# ------------------------------------------------------------------------------ ukis-csmask 1.0.0


def test_ukis_csmask_on_the_chip(ukis_chip):
    pytest.importorskip("ukis_csmask.mask", reason='ukis-csmask not installed: pip install '
                        '"dfmask[peers]"')
    scene, truth = ukis_chip
    out = UkisCsmask(threads=1).predict(scene)
    assert out.dtype == np.uint8 and set(np.unique(out)) <= {CLEAR, CLOUD, SHADOW}
    # three classes: land, water and snow are all "neither cloud nor shadow"
    truth3 = np.where(np.isin(truth, [CLOUD, SHADOW]), truth, CLEAR).astype(np.uint8)
    s = scores(confusion_matrix(truth3, out, n_classes=4))
    assert s.oa == pytest.approx(0.90308, abs=2e-4)  # docs/PEERS.md: 0.903
    assert s.iou[CLOUD] == pytest.approx(0.76065, abs=5e-4)  # 0.761
    assert s.iou[SHADOW] == pytest.approx(0.70323, abs=5e-4)  # 0.703
    assert {c: int((out == c).sum()) for c in (1, 2, 3)} == pytest.approx(
        {1: 160416, 2: 63643, 3: 38085}, abs=300)


# ------------------------------------------------------------------------------ ukis-csmask 0.2.1


def test_the_021_model_is_registered_from_its_sdist():
    entry = registry.manifest()[UKIS_021_MODEL]
    assert entry.sha256 == MODEL_6B_SHA256
    assert entry.origin == "pypi:ukis-csmask==0.2.1:ukis_csmask/model_6b.onnx"
    assert registry.manifest()["ukis_csmask_021/LICENSE"].licence == "Apache-2.0"


def test_the_021_model_file_and_its_input_contract():
    pytest.importorskip("onnxruntime", reason='onnxruntime not installed: pip install '
                        '"dfmask[peers]"')
    path = _model(UKIS_021_MODEL)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == MODEL_6B_SHA256
    session = load_021_session(str(path), 1)
    (inp,), (outp,) = session.get_inputs(), session.get_outputs()
    assert inp.shape[1:] == [256, 256, 6] and inp.type == "tensor(float)"
    assert outp.shape[1:] == [256, 256, 5]


def test_the_4_band_021_model_is_refused(ukis_chip):
    pytest.importorskip("onnxruntime", reason='onnxruntime not installed: pip install '
                        '"dfmask[peers]"')
    path = _model(MODEL_4B)
    with pytest.raises(DataFileError, match=r"takes input .*4\], not \(N, H, W, 6\)"):
        load_021_session(str(path), 1)
    with pytest.raises(DataFileError, match="not the 6-band ukis-csmask 0.2.1 model"):
        UkisCsmask021(model=path, threads=1).predict(ukis_chip[0])


def test_ukis_csmask_021_on_the_chip(ukis_chip):
    pytest.importorskip("onnxruntime", reason='onnxruntime not installed: pip install '
                        '"dfmask[peers]"')
    _model(UKIS_021_MODEL)
    scene, truth = ukis_chip
    out = UkisCsmask021(threads=1).predict(scene)
    assert out.dtype == np.uint8 and set(np.unique(out)) == {1, 2, 3, 5}
    s = scores(confusion_matrix(truth, out))
    # docs/PEERS.md (0.2.1's own tiling): OA 0.967, land 0.962, cloud 0.907, shadow 0.843,
    # water 0.611; the 64 px sin^2 blend of dfmask_lib.windows gives slightly higher values.
    assert s.oa == pytest.approx(0.97089, abs=2e-4)
    assert s.iou[1] == pytest.approx(0.96688, abs=5e-4)
    assert s.iou[2] == pytest.approx(0.90870, abs=5e-4)
    assert s.iou[3] == pytest.approx(0.86786, abs=1e-3)
    assert s.iou[5] == pytest.approx(0.64105, abs=5e-3)


def test_ukis_csmask_021_on_a_small_odd_crop_with_no_data(ukis_chip):
    """Tiling pads a crop smaller than the model's 256 px tile; no data stays 0."""
    pytest.importorskip("onnxruntime", reason='onnxruntime not installed: pip install '
                        '"dfmask[peers]"')
    _model(UKIS_021_MODEL)
    scene, _ = ukis_chip
    full = UkisCsmask021(threads=1).predict(scene)
    img = np.moveaxis(scene.reflectance[:, :100, :300], 0, -1).copy()
    img[:5, :5] = 0
    out = UkisCsmask021(threads=1).predict(_array_scene(img, resolution=10, bands=UKIS_BANDS))
    assert out.shape == (100, 300) and (out[:5, :5] == NODATA).all()
    assert (out[5:, 5:] == full[5:100, 5:300]).mean() > 0.99


def test_ukis_adapters_need_their_six_bands(betsiboka):
    scene, _ = betsiboka
    sub = _array_scene(np.moveaxis(scene.bands(("B02", "B03", "B04", "B08")), 0, -1),
                       resolution=60, bands=("B02", "B03", "B04", "B08"))
    for peer in (UkisCsmask(), UkisCsmask021()):
        reason = peer.unavailable(sub)
        assert reason is not None and "B11, B12" in reason


def test_ukis_021_unavailable_offline_without_the_model(monkeypatch, tmp_path):
    pytest.importorskip("onnxruntime", reason='onnxruntime not installed: pip install '
                        '"dfmask[peers]"')
    monkeypatch.setenv("DFMASK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DFMASK_DATA_MIRROR", str(tmp_path / "no-mirror"))
    reason = UkisCsmask021().unavailable()
    assert reason is not None and "\n" not in reason and "unset DFMASK_OFFLINE" in reason
    missing = UkisCsmask021(model=tmp_path / "none.onnx").unavailable()
    assert "does not exist" in missing


# ------------------------------------------------------------------------------ external peers


@pytest.mark.parametrize("cls", [OmniCloudMask, CloudSEN12, SEnSeIv2])
def test_external_peer_says_how_to_get_it(cls, monkeypatch, tmp_path):
    monkeypatch.delenv(cls.weights_env, raising=False)
    reason = cls().unavailable()
    assert "\n" not in reason
    assert cls.weights_env in reason or "not installed" in reason
    # an empty weights folder is not enough either
    monkeypatch.setenv(cls.weights_env, str(tmp_path))
    reason = cls().unavailable()
    assert reason is not None and ("empty" in reason or "not installed" in reason)


def test_kappamask_never_runs_in_process(ukis_chip):
    reason = KappaMask().unavailable(ukis_chip[0])
    assert "km_predict" in reason and "\n" not in reason
    with pytest.raises(PeerUnavailable, match="km_predict"):
        KappaMask().predict(ukis_chip[0])


def test_four_class_outputs_map_to_project_codes():
    assert FOUR_CLASS_TO_PROJECT.tolist() == [CLEAR, CLOUD, CLOUD, SHADOW]
