"""``dfmask info`` on the real Toulouse products and on bad inputs (one stderr line, exit 2)."""

from __future__ import annotations

import pytest

from dfmask_lib.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["info", *map(str, args)])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.mark.parametrize("which", ["safe_a", "safe_b"])
def test_info_on_toulouse(capsys, request, which):
    code, out, err = run(capsys, request.getfixturevalue(which))
    assert code == 0, err
    lines = dict(line.split(None, 1) if not line.startswith("view") else ("view", line[16:])
                 for line in out.splitlines())
    assert lines["type"].startswith("S2MSI1C")
    assert lines["baseline"] == "05.10"
    assert lines["offset"] == "-1000 (all bands)"
    assert lines["quantification"] == "10000"
    assert lines["grid"] == ("EPSG:32631, 15 x 15 px at 20 m, "
                             "bounds (350000, 4849720, 350300, 4850020)")
    assert lines["valid"] == "100.0 % of pixels"
    sun = {"safe_a": "zenith 65.76 deg, azimuth 162.69 deg",
           "safe_b": "zenith 51.82 deg, azimuth 158.40 deg"}[which]
    assert lines["sun"] == sun


def test_info_bad_inputs(capsys, tmp_path, safe_a, safe_copy):
    code, out, err = run(capsys, tmp_path / "missing.SAFE")
    assert code == 2 and out == "" and err.count("\n") == 1 and "does not exist" in err
    (safe_copy / "MTD_MSIL1C.xml").write_text("<unclosed")
    code, _, err = run(capsys, safe_copy)
    assert code == 2 and err.startswith("dfmask: error: ") and "not valid XML" in err
    code, _, err = run(capsys, safe_a / "INSPIRE.xml")  # an XML that is not MTD_MSIL1C.xml
    assert code == 2 and err.count("\n") == 1 and "not MTD_MSIL1C.xml" in err
    for res in ("0", "nan"):  # once a ZeroDivisionError / ValueError traceback
        code, out, err = run(capsys, safe_a, "--resolution", res)
        assert code == 2 and out == "" and err.count("\n") == 1 and "positive pixel size" in err


def test_info_on_a_geotiff_stack(capsys, tmp_path):
    import numpy as np

    from .conftest import write_tif

    path = write_tif(tmp_path / "stack.tif", np.full((2, 4, 4), 1200, np.uint16), res=10.0)
    code, out, err = run(capsys, path, "--band-names", "B03,B11")
    assert code == 0, err
    assert "20 m" in out and "B03 B11" in out and "offset          0 (all bands)" in out
    code, _, err = run(capsys, path, "--band-names", "B03")
    assert code == 2 and "has 2 bands but 1 band names" in err


def test_info_on_a_float32_reflectance_stack(capsys, tmp_path):
    import numpy as np

    from .conftest import write_tif

    path = write_tif(tmp_path / "ee.tif", np.full((2, 4, 4), 0.25, np.float32))
    code, out, err = run(capsys, path, "--band-names", "b3, B11")  # Earth Engine spelling
    assert code == 0, err
    lines = dict(line.split(None, 1) for line in out.splitlines() if not line.startswith("view"))
    assert lines["values"] == "float32, read as reflectance: (value + offset) / 1"
    assert lines["quantification"] == "1" and lines["bands"] == "B03 B11"
    code, out, err = run(capsys, write_tif(tmp_path / "dn.tif", np.full((2, 4, 4), 1200,
                                                                        np.uint16)),
                         "--band-names", "B03,B11", "--offset", "-1000")
    assert code == 0 and "uint16, read as DN: (value + offset) / 10000" in out
    assert "offset          -1000 (all bands)" in out


def test_info_on_a_stack_in_degrees(capsys, tmp_path):
    from .test_geotiff import _write_degrees

    path = _write_degrees(tmp_path / "chip.tif")
    code, out, err = run(capsys, path, "--band-names", "B03,B11")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "gdalwarp -t_srs EPSG:32632 -tr 20 20" in err and "--resolution native" in err
    code, out, err = run(capsys, path, "--band-names", "B03,B11", "--resolution", "native")
    assert code == 0, err
    assert "EPSG:4326, 6 x 6 px at 0.00018 deg, bounds (10.500000, 60.198920, 10.501080, " \
           "60.200000)" in out
    code, _, err = run(capsys, path, "--band-names", "B03,B11", "--resolution", "fine")
    assert code == 2 and "neither a pixel size in metres nor 'native'" in err


def test_info_refuses_options_a_safe_declares(capsys, safe_a):
    code, out, err = run(capsys, safe_a, "--scale", "10000")
    assert code == 2 and out == "" and "--scale" in err and "SAFE product" in err
