"""Tests of dfmask_lib.writer: class-map GeoTIFFs round-trip with colours, nodata and tags."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import rasterio
from affine import Affine

from dfmask_lib import __version__
from dfmask_lib.classes import FMASK, PROJECT, UKIS_CSMASK
from dfmask_lib.errors import ConfigError, LabelError
from dfmask_lib.writer import write_classmap

TRANSFORM = Affine(20.0, 0.0, 300000.0, 0.0, -20.0, 4800000.0)
CRS = "EPSG:32631"


@dataclass(frozen=True)
class _Cfg:
    threshold: float = 0.4
    name: str = "stage0"


@pytest.fixture
def classes() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 6, size=(300, 270), dtype=np.uint8)  # > one 256 block each way


def test_round_trip_pixels_grid_and_layout(tmp_path, classes):
    out = write_classmap(tmp_path / "sub" / "map.tif", classes, crs=CRS, transform=TRANSFORM)
    assert out == tmp_path / "sub" / "map.tif"
    with rasterio.open(out) as src:
        np.testing.assert_array_equal(src.read(1), classes)
        assert src.dtypes == ("uint8",)
        assert src.crs.to_epsg() == 32631
        assert src.transform == TRANSFORM
        assert src.block_shapes == [(256, 256)]
        assert src.compression.name.lower() == "deflate"
        assert src.nodata == 0
    assert [p.name for p in out.parent.iterdir()] == ["map.tif"]  # no temporary left


def test_colour_table_is_the_authors(tmp_path, classes):
    out = write_classmap(tmp_path / "c.tif", classes, crs=CRS, transform=TRANSFORM)
    with rasterio.open(out) as src:
        cmap = src.colormap(1)
    assert cmap[0] == (0, 0, 0, 0)  # no data: transparent
    assert cmap[1] == (139, 69, 19, 255)
    assert cmap[2] == (245, 250, 178, 255)
    assert cmap[3] == (255, 0, 0, 255)
    assert cmap[4] == (85, 255, 255, 255)
    assert cmap[5] == (38, 40, 210, 255)


def test_tags_names_config_and_version(tmp_path, classes):
    out = write_classmap(tmp_path / "t.tif", classes, crs=CRS, transform=TRANSFORM,
                         config=_Cfg(), tags={"SCENE": "T31TCJ", "N": 3})
    with rasterio.open(out) as src:
        tags = src.tags()
        desc = src.descriptions[0]
    assert tags["CLASS_1"] == "clear land"
    assert tags["CLASS_4"] == "snow/ice"
    assert tags["CLASS_TABLE"] == "project"
    assert tags["DFMASK_VERSION"] == __version__
    assert tags["SCENE"] == "T31TCJ" and tags["N"] == "3"
    cfg = json.loads(tags["DFMASK_CONFIG"])
    assert cfg["threshold"] == 0.4 and cfg["name"] == "stage0"
    assert cfg["__class__"].endswith("_Cfg")
    assert desc.startswith("classes: 0 no data, 1 clear land, 2 cloud")


def test_fmask_table_nodata_255_and_colours(tmp_path):
    fm = np.array([[0, 1, 2], [3, 4, 255]], dtype=np.uint8)
    out = write_classmap(tmp_path / "f.tif", fm, crs=CRS, transform=TRANSFORM, table=FMASK)
    with rasterio.open(out) as src:
        assert src.nodata == 255
        np.testing.assert_array_equal(src.read(1), fm)
        cmap = src.colormap(1)
        tags = src.tags()
    assert cmap[255] == (0, 0, 0, 0)         # fill -> project no data, transparent
    assert cmap[4] == (245, 250, 178, 255)   # Fmask cloud -> cloud colour
    assert cmap[0] == (139, 69, 19, 255)     # Fmask clear land
    assert tags["CLASS_255"] == "fill" and tags["CLASS_TABLE"] == "fmask"


def test_table_without_nodata_code_has_no_nodata(tmp_path):
    m = np.array([[0, 4]], dtype=np.uint8)
    out = write_classmap(tmp_path / "u.tif", m, crs=None, transform=Affine.identity(),
                         table=UKIS_CSMASK)
    with rasterio.open(out) as src:
        assert src.nodata is None
        assert src.colormap(1)[0] == (255, 0, 0, 255)  # ukis 0 = cloud shadow


@pytest.mark.parametrize(
    ("array", "table", "match"),
    [
        (np.array([[0, 6]], dtype=np.uint8), PROJECT, r"codes \[6\]"),
        (np.array([[5, 1]], dtype=np.uint8), FMASK, r"codes \[5\]"),
        (np.zeros((2, 2), dtype=np.int64), PROJECT, "uint8"),
        (np.zeros((1, 2, 2), dtype=np.uint8), PROJECT, "uint8"),
        (np.zeros((0, 3), dtype=np.uint8), PROJECT, "empty"),
    ],
)
def test_refusal_leaves_no_file(tmp_path, array, table, match):
    target = tmp_path / "bad.tif"
    with pytest.raises(LabelError, match=match):
        write_classmap(target, array, crs=CRS, transform=TRANSFORM, table=table)
    assert list(tmp_path.iterdir()) == []


def test_bad_crs_and_config_refused(tmp_path, classes):
    with pytest.raises(ConfigError, match="invalid crs"):
        write_classmap(tmp_path / "x.tif", classes, crs="EPSG:nonsense", transform=TRANSFORM)
    with pytest.raises(ConfigError, match="config dataclass"):
        write_classmap(tmp_path / "x.tif", classes, crs=CRS, transform=TRANSFORM,
                       config={"a": 1})
    with pytest.raises(ConfigError, match="Affine"):
        write_classmap(tmp_path / "x.tif", classes, crs=CRS, transform=(1, 0, 0, 0, -1, 0))
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_existing(tmp_path):
    target = tmp_path / "o.tif"
    write_classmap(target, np.ones((4, 4), np.uint8), crs=CRS, transform=TRANSFORM)
    write_classmap(target, np.full((4, 4), 2, np.uint8), crs=CRS, transform=TRANSFORM)
    with rasterio.open(target) as src:
        assert (src.read(1) == 2).all()


def test_version_tag_names_the_code(tmp_path, classes, monkeypatch):
    """DFMASK_VERSION is the package version plus the git commit (when run from a checkout),
    asked at write time: the cached value of the process."""
    import re

    from dfmask_lib import version

    out = write_classmap(tmp_path / "m.tif", classes, crs=CRS, transform=TRANSFORM)
    with rasterio.open(out) as src:
        tag = src.tags()["DFMASK_VERSION"]
    assert tag == version.get_version() == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+(\+g[0-9a-f]{7,40}(\.dirty)?)?", tag)
    monkeypatch.setattr("dfmask_lib.writer.get_version", lambda: "9.9.9+gdeadbee")
    out = write_classmap(tmp_path / "n.tif", classes, crs=CRS, transform=TRANSFORM)
    with rasterio.open(out) as src:
        assert src.tags()["DFMASK_VERSION"] == "9.9.9+gdeadbee"


# --------------------------------------------------------------------------- COG and probabilities


def test_cog_with_mode_overviews(tmp_path, classes):
    big = np.ones((600, 540), np.uint8)
    big[:2, :2] = [[2, 2], [2, 1]]     # majority cloud
    big[2:4, :2] = [[0, 0], [0, 3]]    # no data does not count: shadow
    big[300:, :] = 0
    out = write_classmap(tmp_path / "cog.tif", big, crs=CRS, transform=TRANSFORM,
                         config=_Cfg(), overviews=True)
    with rasterio.open(out) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.overviews(1) == [2, 4]
        assert src.block_shapes == [(256, 256)] and src.compression.name.lower() == "deflate"
        assert src.nodata == 0 and src.crs.to_epsg() == 32631 and src.transform == TRANSFORM
        assert src.colormap(1)[2] == (245, 250, 178, 255)
        assert src.descriptions[0].startswith("classes: 0 no data")
        assert json.loads(src.tags()["DFMASK_CONFIG"])["name"] == "stage0"
        np.testing.assert_array_equal(src.read(1), big)
        half = src.read(1, out_shape=(300, 270))
    assert half[0, 0] == 2 and half[1, 0] == 3 and half[0, 5] == 1 and not half[150:].any()
    assert [p.name for p in tmp_path.iterdir()] == ["cog.tif"]


def test_small_cog_has_no_overviews(tmp_path):
    out = write_classmap(tmp_path / "s.tif", np.full((15, 15), 4, np.uint8), crs=CRS,
                         transform=TRANSFORM, overviews=True)
    with rasterio.open(out) as src:
        assert src.overviews(1) == [] and (src.read(1) == 4).all()


def test_probability_writer_blocks_percent_nodata(tmp_path):
    from dfmask_lib.writer import probability_writer

    rng = np.random.default_rng(1)
    p = rng.random((6, 300, 40)).astype(np.float32)
    p /= p.sum(0)
    valid = np.ones((300, 40), bool)
    valid[:5, :3] = False
    target = tmp_path / "p.tif"
    with probability_writer(target, (300, 40), crs=CRS, transform=TRANSFORM, config=_Cfg(),
                            tags={"X": 1}) as w:
        for r0 in range(0, 300, 128):  # blocks of 128 x 24 px and the rest
            for c0 in (0, 24):
                w.write(r0, p[:, r0:r0 + 128, c0:c0 + 24], valid[r0:r0 + 128, c0:c0 + 24],
                        col0=c0)
        assert not target.exists()  # only once complete
    with rasterio.open(target) as src:
        got = src.read()
        assert src.count == 5 and src.dtypes[0] == "uint8" and src.nodata == 255
        assert src.scales == (0.01,) * 5 and src.overviews(1) == [2]
        assert src.descriptions[3] == "P(snow/ice) percent" and src.tags()["X"] == "1"
    np.testing.assert_array_equal(got[:, valid], np.rint(p[1:, valid] * 100))
    assert (got[:, ~valid] == 255).all()


def test_probability_writer_incomplete_or_bad_strip_leaves_nothing(tmp_path):
    from dfmask_lib.writer import probability_writer

    target = tmp_path / "p.tif"
    with pytest.raises(ConfigError, match="80 of 160 pixels"):
        with probability_writer(target, (20, 8), crs=CRS, transform=TRANSFORM) as w:
            w.write(0, np.zeros((6, 10, 8), np.float32), np.ones((10, 8), bool))
    with pytest.raises(ConfigError, match=r"inside the \(20, 8\) grid"):
        with probability_writer(target, (20, 8), crs=CRS, transform=TRANSFORM) as w:
            w.write(15, np.zeros((6, 10, 8), np.float32), np.ones((10, 8), bool))
    with pytest.raises(ConfigError, match="at row 0, column 4"):
        with probability_writer(target, (20, 8), crs=CRS, transform=TRANSFORM) as w:
            w.write(0, np.zeros((6, 10, 8), np.float32), np.ones((10, 8), bool), col0=4)
    assert list(tmp_path.iterdir()) == []
