"""``dfmask compare``: bundled datasets and products, methods, skips, outputs, user errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from conftest import fetch_real
from dfmask_lib import peers, realdata
from dfmask_lib.classes import CLEAR, CLOUD, SCORED_CLASSES
from dfmask_lib.cli import main
from dfmask_lib.peers.base import Peer
from test_compare import BANDS, tiny_checkpoint, write_stack_and_labels


class Bright(Peer):
    """Cloud where B02 > 0.2 (a cheap cloud-only method)."""

    name, label, claims, background = "bright", "Bright B02", frozenset({CLOUD}), CLEAR
    bands = ("B02",)

    def _predict(self, scene, product):
        return np.where(scene.band("B02") > 0.2, CLOUD, CLEAR).astype(np.uint8)


class Flat(Peer):
    """Clear land everywhere (claims all classes)."""

    name, label, claims = "flat", "Flat", frozenset(SCORED_CLASSES)

    def _predict(self, scene, product):
        return np.full(scene.shape, CLEAR, np.uint8)


class Absent(Peer):
    name, label, claims = "absent", "Absent 1.0", frozenset({CLOUD})

    def unavailable(self, scene=None, product=None):
        return "absent is not installed; pip install absent"


@pytest.fixture(autouse=True)
def fake_peers(monkeypatch):
    monkeypatch.setattr(peers, "PEERS", {"bright": Bright, "flat": Flat, "absent": Absent},
                        raising=False)


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_compare_on_the_ukis_chip_writes_csv_and_json(capsys, tmp_path):
    fetch_real(realdata.UKIS_CHIP)
    code, out, err = run(capsys, "-q", "compare", "ukis-chip", "--methods",
                         "flat,bright,absent", "--repeats", "2", "-o", tmp_path / "c.csv",
                         "-o", tmp_path / "c.json")
    assert code == 0, err
    assert "ukis-chip: 512 x 512 px, 262144 scored pixels" in out
    assert "skipped Absent 1.0 on ukis-chip: absent is not installed; pip install absent" in out
    assert "Absent 1.0  " not in out                  # skipped methods are not table rows
    assert f"wrote {tmp_path / 'c.csv'}" in out and f"wrote {tmp_path / 'c.json'}" in out
    with open(tmp_path / "c.csv", newline="") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert list(rows) == ["Flat", "Bright B02", "Absent 1.0"]
    assert float(rows["Flat"]["OA"]) == pytest.approx(183124 / 262144)
    assert rows["Flat"]["scored on"] == "all classes" and rows["Bright B02"]["scored on"] == "cloud"
    assert float(rows["Flat"]["cloud IoU"]) == 0.0
    data = json.loads((tmp_path / "c.json").read_text())
    flat, bright, absent = data["scenes"][0]["methods"]
    assert data["scenes"][0]["name"] == "ukis-chip" and len(flat["times_s"]) == 2
    assert flat["scores"]["confusion"][1][1] == 183124
    assert absent["skipped"].startswith("absent is not installed")


def test_default_methods_are_all_peers_and_a_product_with_labels(capsys, tmp_path):
    stack, truth = write_stack_and_labels(tmp_path / "p")
    code, out, err = run(capsys, "compare", stack, "--band-names", ",".join(BANDS),
                         "--repeats", "1")
    assert code == 0, err
    assert f"T33XWJ_20200712T120521: 24 x 20 px, {truth.size} scored pixels" in out
    assert "Flat" in out and "Bright B02" in out
    assert "skipped Absent 1.0 on T33XWJ_20200712T120521" in out


def test_a_dfmask_model_beside_a_peer_on_the_20_m_chip(capsys, tmp_path):
    fetch_real(realdata.UKIS_CHIP)
    tiny_checkpoint(tmp_path / "exp" / "stage2")
    code, out, err = run(capsys, "-q", "compare", "ukis-chip-20m", "--methods",
                         f"flat,dfmask:{tmp_path / 'exp'}", "--repeats", "1")
    assert code == 0, err
    assert "dfmask stage 2" in out and "all classes" in out
    assert "ukis-chip-20m: 256 x 256 px, 63640 scored pixels" in out    # 65536 - 1896 ties


def test_list_methods(capsys):
    code, out, err = run(capsys, "compare", "--list-methods")
    assert code == 0, err
    lines = out.splitlines()
    assert "method" in lines[0] and "availability" in lines[0]
    assert any("bright" in line and "available" in line for line in lines)
    assert any("absent" in line and "absent is not installed" in line for line in lines)


@pytest.mark.parametrize(("args", "message"), [
    (["ukis-chip", "--methods", "flat,nope"],
     "dfmask: error: unknown method 'nope'; choose from bright, flat, absent or dfmask:EXP"),
    (["ukis-chip", "--methods", "flat", "-o", "out.txt"],
     "dfmask: error: output out.txt must end in .csv or .json"),
    (["ukis-chip", "--methods", "dfmask:no_such_experiment_here"], "dfmask: error: no experiment"),
    (["no/such/product.tif", "--methods", "flat"],
     "dfmask: error: no/such/product.tif does not exist"),
    ([], "give at least one PRODUCT"),
    (["ukis-chip", "--scale", "3"], "dfmask: error: the product options (--band-names"),
    (["ukis-chip", "--repeats", "0"], "--repeats"),
])
def test_user_errors_are_one_line_exit_2(capsys, args, message):
    code, out, err = run(capsys, "compare", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    if err.startswith("dfmask: error:"):
        assert len(err.strip().splitlines()) == 1


def test_labels_for_bundled_datasets_only_are_refused(capsys, tmp_path):
    labels = tmp_path / "x_LABELS.tif"
    labels.write_bytes(b"")
    code, _, err = run(capsys, "compare", "ukis-chip", "--labels", labels)
    assert code == 2 and "--labels are for product paths" in err


@pytest.mark.parametrize("args", [["compare", "--help"], ["compare", "--list-methods"]])
def test_help_and_listing_do_not_import_torch(args):
    import subprocess
    import sys

    code = ("import sys\nfrom dfmask_lib.cli import main\ntry:\n    main(%r)\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules, file=sys.stderr)" % args)
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stderr
    assert err.strip().endswith("False")


def test_compare_on_a_safe_product_with_real_peers(capsys, tmp_path, monkeypatch):
    """A synthetic L1C SAFE (JPEG2000 bands, *LABELS.tif in IMG_DATA) with the project's Fmask
    and the Hollstein tree: read at 20 m, scored against its labels."""
    from dfmask_lib.peers import HollsteinTree, OwnFmask
    from test_predict import synthetic_safe

    monkeypatch.setattr(peers, "PEERS", {"fmask": OwnFmask, "hollstein": HollsteinTree})
    safe = synthetic_safe(tmp_path)
    code, out, err = run(capsys, "-q", "compare", safe, "--methods", "fmask,hollstein",
                         "--repeats", "1", "-o", tmp_path / "c.json")
    assert code == 0, err
    assert "T33XWJ_20200712T120521: 60 x 60 px" in out
    assert "Fmask 4 (dfmask)" in out and "Hollstein 2016 decision tree" in out
    data = json.loads((tmp_path / "c.json").read_text())
    fm, ho = data["scenes"][0]["methods"]
    assert fm["scored_on"] == ho["scored_on"] == "all classes"
    assert fm["scored_pixels"] == ho["scored_pixels"] > 0
