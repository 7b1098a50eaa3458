"""healthy-extra from GitHub, with the network call (fetch.github_raw) replaced by a tiny fake repository: a JPEG, a
PNG and a synthetic NIfTI volume with anisotropic voxels stored left-to-right flipped (LAS), so the cutter's
reorientation, orientation and aspect ratio are checked against markers whose place we know."""
from __future__ import annotations

import csv
import io
import types
import urllib.error

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from helpers import config
from helpers.data import fetch, nifti
from helpers.errors import DataError

REPO, COMMIT = "someone/mri-slices", "0123456789abcdef0123456789abcdef01234567"
VOLUME = "vols/sub 1/T1w.nii.gz"
SHAPE, ZOOMS = (40, 20, 12), (1.0, 1.5, 3.0)  # RAS: 40 x 30 x 36 mm
FIELDS = ["path", "source", "subject", "plane", "sequence", "skull", "repo", "commit", "origin"]


def ras_volume() -> np.ndarray:
    """Dim (10) inside, bright (100) markers at the patient's right (x), anterior (y) and superior (z) ends."""
    v = np.full(SHAPE, 10.0, np.float32)
    v[34:, :, :] = 100  # right
    v[:, 16:, :] = 100  # anterior
    v[:, :, 10:] = 100  # superior
    return v


def nifti_bytes(tmp_path) -> bytes:
    # Stored LAS (x reversed, negative x step) as many scanners write it: only a reorientation to RAS puts the
    # right-hand marker back on the right.
    affine = np.diag([-ZOOMS[0], ZOOMS[1], ZOOMS[2], 1.0])
    affine[0, 3] = ZOOMS[0] * (SHAPE[0] - 1)
    path = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(ras_volume()[::-1].copy(), affine), path)
    return path.read_bytes()


def image_bytes(fmt: str, size=(300, 200), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


def row(path, source, origin, plane="axial", subject="s1") -> dict[str, str]:
    return dict(path=path, source=source, subject=subject, plane=plane, sequence="T1", skull="yes", repo=REPO,
                commit=COMMIT, origin=origin)


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """A manifest of five slices from three sources, and github_raw serving their files (calls are recorded)."""
    files = {"img/NonMS (1).jpg": image_bytes("JPEG"), "png/p 2.png": image_bytes("PNG", (256, 256)),
             VOLUME: nifti_bytes(tmp_path)}
    rows = [row("jpgs/s1/a_001.jpg", "jpgs", "img/NonMS (1).jpg"),
            row("pngs/s2/b_1.jpg", "pngs", "png/p 2.png", subject="s2"),
            row("vols/s3/T1w_axial_005.jpg", "vols", VOLUME, subject="s3"),
            row("vols/s3/T1w_coronal_005.jpg", "vols", VOLUME, "coronal", subject="s3"),
            row("vols/s3/T1w_sagittal_005.jpg", "vols", VOLUME, "sagittal", subject="s3")]
    manifest = tmp_path / "manifest.csv"
    write_csv(manifest, rows)
    calls = []

    def github_raw(repo, commit, path, timeout=fetch.TIMEOUT_S):
        calls.append(path)
        if (repo, commit) != (REPO, COMMIT) or path not in files:
            raise DataError(f"GitHub answered HTTP 404 for {path}")
        return files[path]

    monkeypatch.setattr(fetch, "github_raw", github_raw)
    return types.SimpleNamespace(manifest=manifest, rows=rows, calls=calls, files=files,
                                 dest=tmp_path / "raw" / "healthy-extra", downloads=tmp_path / "raw" / ".downloads")


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run(fake, **kw):
    return fetch.fetch_healthy_extra(fake.dest, fake.manifest, fake.downloads, **kw)


def test_writes_the_layout_and_index_downloading_each_file_once(fake_repo):
    root, failed = run(fake_repo)
    assert root == fake_repo.dest and failed == {}
    assert sorted(fake_repo.calls) == sorted(fake_repo.files)  # the volume is fetched once for its three slices
    for r in fake_repo.rows:
        im = Image.open(root / r["path"])
        assert (im.format, im.mode, max(im.size)) == ("JPEG", "L", 256)
    assert Image.open(root / "jpgs/s1/a_001.jpg").size == (256, 171)  # 300 x 200 scaled, aspect kept
    assert read_csv(root / "index.csv") == fake_repo.rows
    assert not list(root.rglob("*.partial")) and not list(fake_repo.downloads.rglob("*.partial"))


def test_resumes_without_downloading_again(fake_repo):
    run(fake_repo)
    stamps = {p: p.stat().st_mtime_ns for p in fake_repo.dest.rglob("*.jpg")}
    fake_repo.calls.clear()
    assert run(fake_repo)[1] == {}
    assert fake_repo.calls == []
    assert {p: p.stat().st_mtime_ns for p in fake_repo.dest.rglob("*.jpg")} == stamps
    # a lost slice is rewritten from the cached volume; a lost image with no cached copy is downloaded again
    (fake_repo.dest / "vols/s3/T1w_coronal_005.jpg").unlink()
    (fake_repo.dest / "jpgs/s1/a_001.jpg").unlink()
    next(fake_repo.downloads.rglob("NonMS (1).jpg")).unlink()
    assert run(fake_repo)[1] == {}
    assert fake_repo.calls == ["img/NonMS (1).jpg"]
    assert (fake_repo.dest / "vols/s3/T1w_coronal_005.jpg").is_file()


def test_volume_slices_have_their_markers_where_the_anatomy_is(fake_repo):
    root, _ = run(fake_repo)

    def load(plane):
        return np.asarray(Image.open(root / f"vols/s3/T1w_{plane}_005.jpg"), float)

    axial, coronal, sagittal = load("axial"), load("coronal"), load("sagittal")
    # physical aspect from the voxel sizes: axial 40 x 30 mm, coronal 40 x 36, sagittal 30 x 36 (width x height)
    assert axial.shape == (192, 256) and coronal.shape == (230, 256) and sagittal.shape == (256, 213)
    bright, dark = 200, 40
    assert axial[:20].mean() > bright and axial[-20:, :150].mean() < dark  # anterior up
    assert axial[-20:, -20:].mean() > bright  # the patient's right on the right (the LAS file was reoriented)
    assert coronal[:20].mean() > bright and coronal[-20:, :150].mean() < dark  # superior up
    assert coronal[-20:, -20:].mean() > bright
    assert sagittal[:20].mean() > bright and sagittal[-20:, :120].mean() < dark  # superior up
    assert sagittal[-20:, -20:].mean() > bright  # anterior (the face) on the right


def test_cut_windows_on_the_whole_volume(tmp_path):
    # one window for the volume: a slice holding only the dim inside stays black, not stretched to white
    path = tmp_path / "v.nii.gz"
    v = ras_volume()
    v[:, :, 10:] = 10  # no superior marker: axial slice 2 is dim inside except the right and anterior markers
    nib.save(nib.Nifti1Image(v, np.diag([*ZOOMS, 1.0])), path)
    a = nifti.cut(path, "axial", 2)
    assert a.dtype == np.uint8 and a.shape == (192, 256)
    assert a[-20:, :150].max() < 10 and a[:20].mean() > 200
    with pytest.raises(DataError, match="outside the volume"):
        nifti.cut(path, "axial", 12)
    with pytest.raises(DataError, match="unknown plane"):
        nifti.cut(path, "oblique", 1)


def test_cut_reads_a_real_brain_volume():
    # nibabel's own test data: a 33 x 41 x 25 brain crop at 2 mm, stored LAS
    from nibabel.testing import data_path

    a = nifti.cut(data_path / "anatomical.nii", "axial", 12)
    assert a.shape == (256, 206) and a.std() > 20


def test_a_failing_source_is_one_line_and_the_others_go_on(fake_repo):
    del fake_repo.files["png/p 2.png"]
    root, failed = run(fake_repo)
    assert list(failed) == ["pngs"] and "404" in failed["pngs"] and "\n" not in failed["pngs"]
    assert read_csv(root / "index.csv") == [r for r in fake_repo.rows if r["source"] != "pngs"]
    assert not (root / "pngs").exists()


def test_a_bad_download_is_not_kept(fake_repo):
    fake_repo.files["img/NonMS (1).jpg"] = b"<html>not an image</html>"
    _, failed = run(fake_repo)
    assert "not an image" in failed["jpgs"]
    assert not list(fake_repo.downloads.rglob("NonMS (1).jpg"))  # the next run downloads it again


def test_a_path_listed_twice_keeps_the_later_row(fake_repo):
    later = row("jpgs/s1/a_001.jpg", "pngs", "png/p 2.png", subject="s2")
    write_csv(fake_repo.manifest, fake_repo.rows + [later])
    root, _ = run(fake_repo)
    index = read_csv(root / "index.csv")
    assert len(index) == len(fake_repo.rows) and later in index
    assert Image.open(root / "jpgs/s1/a_001.jpg").size == (256, 256)  # the PNG's pixels, not the JPEG's


def test_fetch_all_reports_healthy_extra(fake_repo, monkeypatch, capsys):
    """`brain-mri fetch --all`: Kaggle offline and one GitHub source missing -> one line each, exit 1, the rest
    written."""
    def offline(handle=config.KAGGLE_HANDLE):
        raise ConnectionError("Failed to resolve 'www.kaggle.com'")

    del fake_repo.files[VOLUME]
    monkeypatch.setattr(fetch, "download", offline)
    monkeypatch.setattr(fetch, "HEALTHY_EXTRA_MANIFEST", fake_repo.manifest)
    monkeypatch.setattr(config, "RAW_DIR", fake_repo.dest.parent)
    assert fetch.cli_fetch(types.SimpleNamespace(all=True, dest=None)) == 1
    out, err = capsys.readouterr()
    err = err.strip().splitlines()
    assert len(err) == 4 and err[-1].startswith("error: healthy-extra/vols: GitHub answered HTTP 404")
    assert "healthy-extra ready at data/raw/healthy-extra (2 images, 1 source(s) incomplete)" in out
    assert len(read_csv(fake_repo.dest / "index.csv")) == 2


def test_github_raw_quotes_the_path_and_fails_in_one_line(monkeypatch):
    seen = []

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def urlopen(request, timeout):
        seen.append((request.full_url, timeout))
        return Response(b"bytes")

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    assert fetch.github_raw("o/r", "abc", "Dataset/2.Healthy_MRI/NonMS_Source3 (1).jpg", timeout=5) == b"bytes"
    assert seen == [("https://raw.githubusercontent.com/o/r/abc/Dataset/2.Healthy_MRI/NonMS_Source3%20%281%29.jpg",
                     5)]

    def not_found(request, timeout):
        raise urllib.error.HTTPError(request.full_url, 404, "Not Found", {}, None)

    monkeypatch.setattr("urllib.request.urlopen", not_found)
    with pytest.raises(DataError, match=r"^GitHub answered HTTP 404 for https://raw\.githubusercontent\.com/o/r/"):
        fetch.github_raw("o/r", "abc", "x.png")

    def offline(request, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(DataError, match=r"offline\?\): \[Errno -3\]"):
        fetch.github_raw("o/r", "abc", "x.png")


def test_the_committed_manifest_names_every_slice_it_cuts():
    rows = fetch.read_manifest()
    assert list(rows[0]) == FIELDS and len(rows) == 1725
    assert {r["source"] for r in rows} == {"ixi-t2", "open-ms", "niivue", "ms-flair-iran", "dwi"}
    assert all(len(r["commit"]) == 40 and r["repo"].count("/") == 1 for r in rows)
    for r in rows:
        if r["source"] in ("open-ms", "niivue"):
            assert r["origin"].endswith(".nii.gz") and fetch.slice_from_name(r["path"])[0] == r["plane"]
        else:
            assert r["origin"].lower().endswith((".jpg", ".jpeg", ".png"))
