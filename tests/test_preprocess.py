"""helpers.data.prepare: decoding every mode/format, the guards, the head crop and the array cache."""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import config
from helpers.data import arrays as A
from helpers.data import decode as D
from helpers.errors import ImageError
from helpers.data import prepare as P
from helpers.data.synthetic import make_phantom


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def head() -> np.ndarray:
    return make_phantom("meningioma", seed=3, size=200)[0]


# ------------------------------------------------------------------------------------------- modes
@pytest.mark.parametrize(
    "mode, fmt",
    [("L", "PNG"), ("L", "JPEG"), ("RGB", "JPEG"), ("RGB", "PNG"), ("RGBA", "PNG"), ("P", "PNG"),
     ("LA", "PNG"), ("1", "PNG"), ("CMYK", "JPEG"), ("CMYK", "TIFF"), ("RGB", "BMP"), ("P", "GIF"),
     ("RGB", "WEBP"), ("L", "TIFF")],
)
def test_decode_modes(head, mode, fmt):
    im = Image.fromarray(head).convert(mode)
    dec = D.decode(_save(im, fmt))
    assert dec.gray.dtype == np.uint8 and dec.gray.shape == head.shape
    assert (dec.width, dec.height) == (head.shape[1], head.shape[0])
    assert dec.format == fmt
    if mode != "1":  # 1-bit dithering aside, the picture must survive the round trip
        assert np.abs(dec.gray.astype(int) - head).mean() < 12
    assert "colour image converted to grayscale" not in dec.warnings  # gray stored as colour is not colour


def test_rgba_composited_on_black():
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:, 16:, 3] = 255  # left half transparent white, right half opaque white
    g = D.decode(_save(Image.fromarray(rgba, "RGBA"), "PNG")).gray
    assert g[:, :16].max() == 0 and g[:, 16:].min() == 255


def test_real_colour_warns():
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[..., 0] = 200  # red
    dec = D.decode(_save(Image.fromarray(rgb), "PNG"))
    assert "colour image converted to grayscale" in dec.warnings


def test_16bit_rescaled():
    a = (np.linspace(0, 4000, 64 * 64).reshape(64, 64)).astype(np.uint16)
    dec = D.decode(_save(Image.fromarray(a), "PNG"))
    assert dec.mode.startswith("I")
    assert dec.gray.min() == 0 and dec.gray.max() == 255
    assert np.all(np.diff(dec.gray[:, 5].astype(int)) >= 0)  # monotone mapping
    assert any("rescaled" in w for w in dec.warnings)


def test_float_tiff_rescaled():
    a = np.linspace(-1, 1, 48 * 48, dtype=np.float32).reshape(48, 48)
    dec = D.decode(_save(Image.fromarray(a, "F"), "TIFF"))
    assert dec.gray.max() == 255 and dec.gray.min() == 0


def test_png_named_jpg_warns(tmp_path, head):
    f = tmp_path / "scan.jpg"
    f.write_bytes(_save(Image.fromarray(head), "PNG"))
    dec = D.decode(f)
    assert dec.format == "PNG"
    assert "extension says .jpg but content is PNG" in dec.warnings
    assert "extension says" in " ".join(D.decode(f.read_bytes(), name="upload.JPG").warnings)


# ------------------------------------------------------------------------------------------- guards
def _err(source, **kw) -> str:
    with pytest.raises(ImageError) as e:
        D.decode(source, **kw)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_empty_and_random_and_missing(tmp_path):
    assert _err(b"") == "empty file"
    for seed in range(5):
        assert _err(np.random.default_rng(seed).bytes(3000)) == "not an image (unrecognised format)"
    assert _err(b"hello, I am a text file\n" * 20) == "not an image (unrecognised format)"
    assert "not found" in _err(tmp_path / "nope.png")


def test_truncated_jpeg(head):
    data = _save(Image.fromarray(head), "JPEG", quality=90)
    assert _err(data[: len(data) // 2]) == "truncated or corrupt image"
    assert _err(data[:300]) == "truncated or corrupt image"


def test_too_small():
    assert _err(_save(Image.new("L", (1, 1)), "PNG")) == "image too small (1×1)"
    assert _err(_save(Image.new("L", (15, 300)), "PNG")) == "image too small (15×300)"


def _patch_png_size(png: bytes, w: int, h: int) -> bytes:
    # IHDR is the first chunk: length(4) type(4) data(13) crc(4); width/height are its first 8 bytes.
    ihdr = bytearray(png[12:29])
    ihdr[4:12] = struct.pack(">II", w, h)
    crc = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return png[:12] + bytes(ihdr) + crc + png[33:]


def test_decompression_bomb_refused_without_allocating():
    bomb = _patch_png_size(_save(Image.new("L", (16, 16)), "PNG"), 20000, 20000)
    assert _err(bomb) == "image too large (20000×20000 pixels): refusing possible decompression bomb"
    # just over the limit (where Pillow would only warn) is refused too
    side = int(config.MAX_IMAGE_PIXELS ** 0.5) + 2
    assert "image too large" in _err(_patch_png_size(_save(Image.new("L", (16, 16)), "PNG"), side, side))


def test_bomb_in_jpeg_header(head):
    data = bytearray(_save(Image.fromarray(head), "JPEG"))
    i = data.find(b"\xff\xc0")  # baseline SOF: height/width at +5/+7
    data[i + 5 : i + 9] = struct.pack(">HH", 30000, 30000)
    assert "image too large (30000×30000 pixels)" in _err(bytes(data))


# ------------------------------------------------------------------------------------------- DICOM
pydicom = pytest.importorskip("pydicom")


def _dicom(arr: np.ndarray | None, photometric="MONOCHROME2", frames: int | None = None, preamble=True, **extra) -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.Manufacturer, ds.MagneticFieldStrength = "MR", "Acme", 1.5
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Secret^Person", "ID-12345", "19700101"
    if arr is not None:
        ds.Rows, ds.Columns = arr.shape[-2:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        if frames:
            ds.NumberOfFrames = frames
        ds.PixelData = np.ascontiguousarray(arr, dtype="<u2").tobytes()
    for k, v in extra.items():
        setattr(ds, k, v)
    buf = io.BytesIO()
    if preamble:
        ds.save_as(buf, enforce_file_format=True)
    else:
        ds.preamble = None
        pydicom.dcmwrite(buf, ds, enforce_file_format=False)
    return buf.getvalue()


def test_dicom_testdata_mr_small():
    from pydicom.data import get_testdata_file

    dec = D.decode(get_testdata_file("MR_small.dcm"))
    assert dec.format == "DICOM" and dec.gray.shape == (64, 64) and dec.gray.dtype == np.uint8
    assert dec.gray.max() > dec.gray.min()
    assert dec.dicom["Modality"] == "MR" and dec.dicom["Rows"] == 64


def test_dicom_truncated():
    from pydicom.data import get_testdata_file

    with pytest.raises(ImageError):
        D.decode(get_testdata_file("MR_truncated.dcm"))


def test_dicom_metadata_is_patient_free():
    ramp = np.tile(np.arange(64, dtype=np.uint16) * 60, (64, 1))
    dec = D.decode(_dicom(ramp))
    text = repr(dec.dicom)
    assert "Secret" not in text and "12345" not in text and "1970" not in text
    assert not any(k.startswith("Patient") for k in dec.dicom)
    assert dec.dicom["Manufacturer"] == "Acme" and dec.dicom["MagneticFieldStrength"] == 1.5


def test_dicom_no_pixel_data():
    assert _err(_dicom(None)) == "DICOM file has no pixel data"


def test_dicom_without_preamble():
    ramp = np.tile(np.arange(64, dtype=np.uint16) * 60, (64, 1))
    data = _dicom(ramp, preamble=False)
    assert data[128:132] != b"DICM"
    assert D.decode(data).format == "DICOM"


def test_dicom_multiframe_middle_frame():
    frames = np.stack([np.full((32, 32), 100 * i, np.uint16) for i in range(5)])
    frames[:, :, :16] = 0  # contrast inside each frame
    dec = D.decode(_dicom(frames, frames=5))
    assert "multi-frame DICOM (5 frames): showing the middle frame" in dec.warnings
    assert dec.dicom["NumberOfFrames"] == 5 and dec.dicom["ShownFrame"] == 2


def test_dicom_monochrome1_inverted_and_window():
    ramp = np.tile(np.arange(64, dtype=np.uint16) * 60, (64, 1))
    g2 = D.decode(_dicom(ramp, "MONOCHROME2")).gray
    g1 = D.decode(_dicom(ramp, "MONOCHROME1")).gray
    assert g2[0, 0] < g2[0, -1] and g1[0, 0] > g1[0, -1]
    assert np.array_equal(g1, 255 - g2)
    # an explicit window saturates outside [c - w/2, c + w/2]
    gw = D.decode(_dicom(ramp, WindowCenter=1900, WindowWidth=200)).gray
    assert gw[0, 0] == 0 and gw[0, -1] == 255 and 0 < gw[0, 32] < 255


def test_dicom_rescale_slope_intercept():
    ramp = np.tile(np.arange(64, dtype=np.uint16) * 10, (64, 1))
    # with slope/intercept the window is in rescaled units: 10*x - 1000 in [-500, 500] -> x in [50, 150] -> cols 5..15
    g = D.decode(_dicom(ramp, RescaleSlope=10, RescaleIntercept=-1000, WindowCenter=0, WindowWidth=1000)).gray
    assert g[0, 4] == 0 and g[0, 16] == 255


def test_dicom_compressed_without_decoder():
    from pydicom.data import get_testdata_file
    from pydicom.uid import JPEGLSLossless

    ds = pydicom.dcmread(get_testdata_file("JPEG2000.dcm"))
    ds.file_meta.TransferSyntaxUID = JPEGLSLossless  # no JPEG-LS plugin is a dependency
    buf = io.BytesIO()
    ds.save_as(buf)
    try:
        D.decode(buf.getvalue())
    except ImageError as e:
        assert "JPEG-LS" in str(e) and "decoder" in str(e)
    # (if a JPEG-LS plugin happens to be installed it may decode or fail as corrupt: both are fine)


# ------------------------------------------------------------------------------------------- prepare
def test_prepare_shape_dtype(head):
    for size in (32, 128, 200):
        out = P.prepare(head, size)
        assert out.shape == (size, size) and out.dtype == np.uint8
    assert P.preprocess(_save(Image.fromarray(head), "PNG"), 64).shape == (64, 64)
    with pytest.raises(ImageError):
        P.prepare(np.zeros((4, 4, 3), np.uint8))


def test_crop_blank_and_uniform_unchanged():
    for g in (np.zeros((50, 70), np.uint8), np.full((50, 70), 120, np.uint8)):
        assert P.crop_head(g).shape == g.shape
        assert P.prepare(g, 32).shape == (32, 32)


def test_pad_square_centres():
    g = np.full((10, 30), 200, np.uint8)
    sq = P.pad_square(g)
    assert sq.shape == (30, 30) and sq[:10].max() == 0 and sq[10:20].min() == 200 and sq[20:].max() == 0


def _same_input(a: np.ndarray, b: np.ndarray) -> bool:
    # Pixel noise makes raw differences jumpy under 1-2 % rescaling: compare correlation and the 32-px means.
    a32 = np.asarray(Image.fromarray(a).resize((32, 32), Image.Resampling.BOX), dtype=float)
    b32 = np.asarray(Image.fromarray(b).resize((32, 32), Image.Resampling.BOX), dtype=float)
    return np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9 and np.abs(a32 - b32).mean() < 7


def test_crop_removes_border_size_shortcut(head):
    """The same head in canvases of very different size and border gives (nearly) the same model input."""
    ref_box = np.array(P.head_bbox(head))
    extent = max(ref_box[1] - ref_box[0], ref_box[3] - ref_box[2])
    ref = P.prepare(head, 128)
    for shape, (y, x) in (((260, 240), (30, 20)), ((900, 700), (500, 80)), ((1080, 1920), (40, 1500))):
        canvas = np.zeros(shape, np.uint8)
        canvas[y : y + 200, x : x + 200] = head
        box = np.array(P.head_bbox(canvas)) - [y, y, x, x]
        assert np.abs(box - ref_box).max() <= 0.02 * extent, (shape, box, ref_box)
        assert _same_input(P.prepare(canvas, 128), ref), shape
    big = np.zeros((900, 700), np.uint8)
    big[500:700, 80:280] = head
    # a burnt-in annotation far from the head is ignored
    annotated = big.copy()
    annotated[20:40, 600:660] = 255
    assert _same_input(P.prepare(annotated, 128), ref)
    # and a thin frame drawn round the image does not defeat the crop
    framed = big.copy()
    framed[[2, -3], :] = 255
    framed[:, [2, -3]] = 255
    assert _same_input(P.prepare(framed, 128), ref)


def test_crop_keeps_whole_head(head):
    t, b, l, r = P.head_bbox(head)
    ys, xs = np.nonzero(head > 60)
    assert t <= ys.min() and b > ys.max() and l <= xs.min() and r > xs.max()


def test_draft_path_matches_full_decode():
    img = make_phantom("glioma", seed=11, size=512)[0]
    data = _save(Image.fromarray(img), "JPEG", quality=90)
    small, full = D.decode(data, draft=256).gray, D.decode(data).gray
    assert small.shape == (256, 256) and full.shape == (512, 512)  # JPEG decoded at 1/2 scale
    box_small, box_full = 2 * np.array(P.head_bbox(small)), np.array(P.head_bbox(full))
    assert np.abs(box_small - box_full).max() <= 0.02 * 512
    fast = P.preprocess(data, 128)  # what training and the dashboard use
    assert np.array_equal(fast, P.prepare(small, 128))
    assert np.corrcoef(fast.ravel().astype(float), P.prepare(full, 128).ravel())[0, 1] > 0.9


# ------------------------------------------------------------------------------------------- arrays
def _split_df(root: Path) -> pd.DataFrame:
    files = sorted(p for p in root.glob("T*/*/*.jpg"))
    return pd.DataFrame({"path": [p.relative_to(root).as_posix() for p in files], "label": [p.parent.name for p in files]})


def test_load_arrays_order_and_cache(phantom_dir, isolated_cache, monkeypatch):
    df = _split_df(phantom_dir).sample(frac=1.0, random_state=0).reset_index(drop=True)
    X, y = A.load_arrays(phantom_dir, df, size=48, progress=False)
    assert X.shape == (len(df), 48, 48) and X.dtype == np.uint8 and y.dtype == np.int64
    assert list(y) == [config.CLASSES.index(lbl) for lbl in df["label"]]
    assert np.array_equal(X[3], P.preprocess(phantom_dir / df.path[3], 48))
    cached = list((isolated_cache / "arrays").glob("X_*.npy"))
    assert len(cached) == 1

    def boom(*a, **k):
        raise AssertionError("cache miss")

    monkeypatch.setattr(P, "preprocess_many", boom)
    X2, y2 = A.load_arrays(phantom_dir, df, size=48, progress=False)  # cache hit
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    monkeypatch.undo()
    monkeypatch.setattr(config, "cache_dir", lambda: isolated_cache)
    # touching one file (new mtime) invalidates the cache
    f = phantom_dir / df.path[0]
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    X3, _ = A.load_arrays(phantom_dir, df, size=48, progress=False)
    assert np.array_equal(X, X3)
    assert len(list((isolated_cache / "arrays").glob("X_*.npy"))) == 2


def test_load_arrays_bad_label(phantom_dir, isolated_cache):
    df = _split_df(phantom_dir).head(2).assign(label="tumour")
    with pytest.raises(ValueError, match="unknown labels"):
        A.load_arrays(phantom_dir, df, progress=False)


def test_preprocess_many_parallel_matches_serial(phantom_dir):
    paths = sorted(phantom_dir.glob("T*/*/*.jpg")) * 3  # >= 64 paths: uses the process pool
    assert len(paths) >= 64
    par = P.preprocess_many(paths, 32, workers=2)
    ser = P.preprocess_many(paths, 32, workers=1)
    assert np.array_equal(par, ser)


def test_preprocess_many_names_bad_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ImageError, match="broken.jpg: not an image"):
        P.preprocess_many([bad], 32)


def test_fast_morphology_equals_scipy_ndimage():
    """The head crop's shifted-array erosion, dilation and hole filling give exactly ndimage's masks."""
    from scipy import ndimage

    from helpers.data import prepare as preprocess

    rng = np.random.default_rng(0)
    for _ in range(500):
        h, w = rng.integers(3, 40, 2)
        m = rng.random((h, w)) < rng.uniform(0.2, 0.9)
        np.testing.assert_array_equal(preprocess._dilate(preprocess._erode(m)), ndimage.binary_opening(m))
        np.testing.assert_array_equal(preprocess._fill_holes(m), ndimage.binary_fill_holes(m))
        np.testing.assert_array_equal(preprocess._dilate(m, 3), ndimage.binary_dilation(m, iterations=3))
    ring = np.zeros((9, 9), bool)
    ring[2:7, 2:7], ring[3:6, 3:6] = True, False
    assert preprocess._fill_holes(ring)[4, 4] and not preprocess._fill_holes(ring)[0, 0]
