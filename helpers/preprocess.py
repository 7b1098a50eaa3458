"""Decode any brain-MRI slice (JPEG/PNG/.../DICOM) to grayscale and prepare it for the models.

One path for every consumer (training, evaluation, dashboard): ``preprocess(source, size)`` =
``prepare(decode(source, draft=2*size).gray, size)``. ``prepare`` crops to the head, pads to a square and
resizes, so neither the file's pixel size nor its black border reaches the model: in the Kaggle data the
image size alone nearly gives the class away (every glioma is 512x512).
"""
from __future__ import annotations

import hashlib
import io
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from struct import error as struct_error  # escapes some Pillow plugins on garbage headers
from typing import Iterable, Sequence, Union

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

from . import config

# Bump whenever decode/crop/resize changes: it is part of the array-cache key.
PREPROCESS_VERSION = "prep-v3"

Source = Union[bytes, bytearray, memoryview, str, Path]

# Pillow's own bomb guard at our limit; its warning (1-2x the limit) is turned into an error below.
Image.MAX_IMAGE_PIXELS = config.MAX_IMAGE_PIXELS

MIN_SIDE = 16
_EXT_FORMAT = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".png": "PNG", ".bmp": "BMP", ".gif": "GIF",
    ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP", ".dcm": "DICOM", ".dicom": "DICOM",
}
# Patient-free DICOM attributes we are willing to show; anything identifying is never copied.
_DICOM_FIELDS = (
    "Modality", "Manufacturer", "ManufacturerModelName", "MagneticFieldStrength", "SeriesDescription",
    "SequenceName", "ScanningSequence", "PixelSpacing", "SliceThickness", "Rows", "Columns",
    "PhotometricInterpretation", "BitsStored",
)


class ImageError(ValueError):
    """A file we cannot (or will not) turn into an image; the message is one line for the user."""


@dataclass
class Decoded:
    gray: np.ndarray  # (H, W) uint8
    format: str  # "JPEG", "PNG", "DICOM", ...
    mode: str  # source mode, e.g. "RGB", "I;16", "MONOCHROME2 16-bit"
    width: int  # of the source image (before any draft reduction)
    height: int
    warnings: list[str] = field(default_factory=list)
    dicom: dict | None = None


# --------------------------------------------------------------------------------------------- decode
def _read(source: Source) -> tuple[bytes, str | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    path = Path(source)
    try:
        return path.read_bytes(), path.name
    except FileNotFoundError:
        raise ImageError(f"file not found: {path.name}") from None
    except IsADirectoryError:
        raise ImageError(f"not a file: {path.name}") from None
    except OSError as e:
        raise ImageError(f"cannot read {path.name}: {e.strerror or e}") from None


def _check_size(w: int, h: int, frames: int = 1) -> None:
    if w * h * max(frames, 1) > config.MAX_IMAGE_PIXELS:
        raise ImageError(f"image too large ({w}×{h} pixels): refusing possible decompression bomb")
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"image too small ({w}×{h})")


def _rescale(a: np.ndarray, lo_pct: float = 0.5, hi_pct: float = 99.5) -> np.ndarray:
    """Float array -> uint8 by robust percentiles (16-bit PNGs, DICOM without a window)."""
    a = np.asarray(a, dtype=np.float64)
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return np.zeros(a.shape, np.uint8)
    lo, hi = np.percentile(finite, [lo_pct, hi_pct])
    if hi <= lo:  # mostly-constant image: fall back to the full range
        lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        return np.zeros(a.shape, np.uint8)
    out = (np.nan_to_num(a, nan=lo) - lo) * (255.0 / (hi - lo))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _has_colour(rgb: np.ndarray) -> bool:
    # JPEG chroma noise makes "gray saved as RGB" differ by a few levels; real colour differs by far more.
    step = max(1, min(rgb.shape[:2]) // 128)
    s = rgb[::step, ::step].astype(np.int16)
    spread = np.abs(s[..., 0] - s[..., 1]) + np.abs(s[..., 1] - s[..., 2])
    return float(np.percentile(spread, 99)) > 24


def _over_black(im: Image.Image) -> Image.Image:
    """Composite an image with alpha on black (transparent = background = black in MRI)."""
    rgba = im.convert("RGBA")
    black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    return Image.alpha_composite(black, rgba).convert("RGB")


def _pil_to_gray(im: Image.Image, warns: list[str]) -> np.ndarray:
    mode = im.mode
    if mode == "L":
        return np.asarray(im, dtype=np.uint8)
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        warns.append("16-bit image rescaled" if mode.startswith("I;16") else f"{'32-bit integer' if mode == 'I' else 'floating-point'} image rescaled")
        return _rescale(np.asarray(im))
    if mode == "1":
        return np.asarray(im.convert("L"), dtype=np.uint8)
    if mode == "LA" or mode == "La":
        a = np.asarray(im.convert("LA"), dtype=np.uint16)
        return ((a[..., 0] * a[..., 1] + 127) // 255).astype(np.uint8)
    if mode == "PA" or mode == "P":
        im = _over_black(im) if ("transparency" in im.info or mode == "PA") else im.convert("RGB")
    elif mode in ("RGBA", "RGBa"):
        im = _over_black(im)
    elif mode != "RGB":  # CMYK, YCbCr, LAB, HSV, ...
        try:
            im = im.convert("RGB")
        except (ValueError, OSError):
            raise ImageError(f"unsupported image mode {mode}") from None
    if _has_colour(np.asarray(im)):
        warns.append("colour image converted to grayscale")
    return np.asarray(im.convert("L"), dtype=np.uint8)


def _sniff_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of PNG/GIF/BMP/JPEG/WebP bytes, without decoding anything.

    Lets the bomb guard name the size: Pillow's own guard fires inside Image.open, before we see it.
    """
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if data[:4] == b"GIF8":
            return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        if data[:2] == b"BM" and len(data) >= 26:
            return abs(int.from_bytes(data[18:22], "little", signed=True)), abs(int.from_bytes(data[22:26], "little", signed=True))
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            kind = data[12:16]
            if kind == b"VP8X":
                return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
            if kind == b"VP8L":
                b = int.from_bytes(data[21:25], "little")
                return (b & 0x3FFF) + 1, ((b >> 14) & 0x3FFF) + 1
            if kind == b"VP8 ":
                return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
        if data[:2] == b"\xff\xd8":
            i, n = 2, len(data)
            while i + 9 < n:
                if data[i] != 0xFF:
                    return None
                marker = data[i + 1]
                if marker == 0xFF:  # fill byte
                    i += 1
                    continue
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
                    return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
                if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
                    i += 2
                    continue
                i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    except (IndexError, ValueError):
        return None
    return None


def _decode_pil(data: bytes, name: str | None, draft: int | None) -> Decoded:
    warns: list[str] = []
    sniffed = _sniff_size(data)
    if sniffed and sniffed[0] * sniffed[1] > config.MAX_IMAGE_PIXELS:
        _check_size(*sniffed)  # refuse before Pillow even parses it
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise ImageError("image too large: refusing possible decompression bomb") from None
        except Image.DecompressionBombWarning:
            raise ImageError("image too large: refusing possible decompression bomb") from None
        with im:
            fmt, mode = (im.format or "unknown").upper(), im.mode
            w, h = im.size
            _check_size(w, h)  # header only: nothing decoded yet
            n_frames = getattr(im, "n_frames", 1)
            if n_frames > 1:
                warns.append(f"multi-frame image ({n_frames} frames): showing the first frame")
            if draft and fmt == "JPEG":
                # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT (libjpeg): several-fold faster,
                # still >= 2x the model size on each side, so crop + resize quality is unaffected.
                im.draft("L", (draft, draft))
            try:
                im.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise ImageError(f"image too large ({w}×{h} pixels): refusing possible decompression bomb") from None
            except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct_error):
                raise ImageError("truncated or corrupt image") from None
            try:
                orient = im.getexif().get(0x0112, 1)
            except Exception:  # broken EXIF must not reject a readable image
                orient = 1
            im2 = ImageOps.exif_transpose(im) if orient not in (1, None) else im
            try:
                gray = _pil_to_gray(im2, warns)
            except (OSError, SyntaxError, EOFError):
                raise ImageError("truncated or corrupt image") from None
    return Decoded(gray=np.ascontiguousarray(gray), format=fmt, mode=mode, width=w, height=h, warnings=warns)


def _looks_like_dicom(data: bytes) -> bool:
    return len(data) >= 132 and data[128:132] == b"DICM"


def _read_dicom(data: bytes, force: bool):
    import pydicom

    try:
        with warnings.catch_warnings():  # force=True on non-DICOM bytes warns about every "tag" it meets
            warnings.simplefilter("ignore")
            return pydicom.dcmread(io.BytesIO(data), force=force)
    except Exception:
        return None


def _tsyntax_name(ds) -> str:
    try:
        uid = ds.file_meta.TransferSyntaxUID
        return f"{uid.name} ({uid})" if getattr(uid, "name", None) else str(uid)
    except Exception:
        return "unknown"


def _decode_dicom(ds) -> Decoded:
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    warns: list[str] = []
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise ImageError("DICOM file has no pixel data")
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
    except Exception:
        raise ImageError("truncated or corrupt image") from None
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    _check_size(cols, rows, frames)
    try:
        arr = ds.pixel_array
    except (NotImplementedError, RuntimeError) as e:
        tsx = _tsyntax_name(ds)
        compressed = False
        try:
            compressed = bool(ds.file_meta.TransferSyntaxUID.is_compressed)
        except Exception:
            pass
        if compressed or "plugin" in str(e).lower() or "decoder" in str(e).lower():
            raise ImageError(f"DICOM transfer syntax {tsx} needs a decoder that is not installed") from None
        raise ImageError("truncated or corrupt image") from None
    except Exception:
        raise ImageError("truncated or corrupt image") from None
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")).upper()
    spp = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if frames > 1 and arr.ndim >= 3 and arr.shape[0] == frames:
        mid = frames // 2
        arr = arr[mid]
        warns.append(f"multi-frame DICOM ({frames} frames): showing the middle frame")
    else:
        mid = 0
    if spp > 1 or arr.ndim == 3:
        if photometric.startswith("YBR"):
            from pydicom.pixels import convert_color_space

            arr = convert_color_space(arr, photometric, "RGB")
        arr = arr[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        warns.append("colour image converted to grayscale")
        gray = _rescale(arr, 0.0, 100.0)
    else:
        values = apply_modality_lut(arr, ds)  # RescaleSlope/Intercept (or Modality LUT)
        if "WindowCenter" in ds and "WindowWidth" in ds:
            gray = _window(values, ds)
        elif "VOILUTSequence" in ds:
            gray = _rescale(apply_voi_lut(values, ds, index=0), 0.0, 100.0)
        else:
            gray = _rescale(values)  # no window stored: robust percentile window
        if photometric == "MONOCHROME1":  # 0 = white in MONOCHROME1
            gray = 255 - gray
    bits = int(getattr(ds, "BitsStored", 8) or 8)
    meta = {}
    for key in _DICOM_FIELDS:
        v = ds.get(key)
        if v is None or v == "":
            continue
        if hasattr(v, "__iter__") and not isinstance(v, (str, bytes)):
            v = [float(x) if isinstance(x, (int, float)) or hasattr(x, "real") else str(x) for x in v]
        elif isinstance(v, (int, float)):
            v = float(v) if not isinstance(v, int) else int(v)
        else:
            try:
                v = float(v) if key in ("MagneticFieldStrength", "SliceThickness") else str(v)
            except (TypeError, ValueError):
                v = str(v)
        meta[key] = v
    meta["NumberOfFrames"] = frames
    if frames > 1:
        meta["ShownFrame"] = mid
    return Decoded(gray=np.ascontiguousarray(gray, dtype=np.uint8), format="DICOM",
                   mode=f"{photometric} {bits}-bit", width=cols, height=rows, warnings=warns, dicom=meta)


def _window(values: np.ndarray, ds) -> np.ndarray:
    """DICOM linear VOI window (PS3.3 C.11.2.1.2) to 0..255, using the first window if several."""
    def first(v):
        try:
            return float(v[0]) if hasattr(v, "__len__") and not isinstance(v, str) else float(v)
        except (TypeError, ValueError, IndexError):
            return float("nan")

    c, w = first(ds.WindowCenter), first(ds.WindowWidth)
    if not np.isfinite(c) or not np.isfinite(w) or w < 1:
        return _rescale(values)
    v = np.asarray(values, dtype=np.float64)
    out = ((v - (c - 0.5)) / (w - 1) + 0.5) * 255.0
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def decode(source: Source, *, name: str | None = None, draft: int | None = None) -> Decoded:
    """Decode bytes or a path to an 8-bit grayscale image, format detected from the content.

    ``name`` (e.g. an upload's filename) enables the extension-mismatch warning for bytes. ``draft`` lets
    JPEGs decode at a reduced scale no smaller than draft x draft (used by ``preprocess``/``load_arrays``).
    Raises ImageError with a one-line message for anything that is not a usable image.
    """
    data, fname = _read(source)
    name = name or fname
    if len(data) == 0:
        raise ImageError("empty file")
    ds = None
    if _looks_like_dicom(data):
        ds = _read_dicom(data, force=True)
        if ds is None:
            raise ImageError("truncated or corrupt image")
        dec = _decode_dicom(ds)
    else:
        try:
            dec = _decode_pil(data, name, draft)
        except ImageError:
            raise
        except Image.UnidentifiedImageError:
            ds = _read_dicom(data, force=True)  # DICOM written without the 128-byte preamble?
            if ds is None or not _is_plausible_dicom(ds):
                raise ImageError("not an image (unrecognised format)") from None
            dec = _decode_dicom(ds)
        except MemoryError:
            raise ImageError("image too large to decode") from None
        except Exception:
            raise ImageError("truncated or corrupt image") from None
    if name:
        ext = Path(name).suffix.lower()
        expected = _EXT_FORMAT.get(ext)
        if expected and expected != dec.format:
            dec.warnings.append(f"extension says {ext} but content is {dec.format}")
    return dec


def _is_plausible_dicom(ds) -> bool:
    # force=True "parses" almost anything; require real identity/image attributes (checked by tag, so the
    # garbage "elements" of a non-DICOM file are never converted).
    try:
        tags = set(ds.keys())
    except Exception:
        return False
    pixel, rows = 0x7FE00010, 0x00280010
    ident = {0x00080016, 0x00080060, 0x0020000D, 0x00280010}  # SOPClassUID, Modality, StudyInstanceUID, Rows
    return (pixel in tags and rows in tags) or len(tags & ident) >= 2


# --------------------------------------------------------------------------------------------- prepare
def _otsu(v: np.ndarray) -> float:
    hist = np.bincount(v.astype(np.uint8).ravel(), minlength=256).astype(np.float64)
    p = hist / max(hist.sum(), 1)
    omega = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    denom = omega * (1 - omega)
    with np.errstate(divide="ignore", invalid="ignore"):
        sb = np.where(denom > 0, (mu[-1] * omega - mu) ** 2 / denom, 0)
    return float(np.argmax(sb))


def _block_mean(g: np.ndarray, f: int) -> np.ndarray:
    hs, ws = g.shape[0] // f, g.shape[1] // f
    return g[: hs * f, : ws * f].reshape(hs, f, ws, f).mean(axis=(1, 3), dtype=np.float32)


# Binary morphology with the 4-neighbour cross and nothing outside the image, as scipy.ndimage's defaults, by
# shifted logical operations: the same masks (tested against ndimage) at a fraction of the cost on 2 cores,
# where head cropping dominates preprocessing time.
def _erode(m: np.ndarray) -> np.ndarray:
    out = m.copy()
    out[1:] &= m[:-1]
    out[:-1] &= m[1:]
    out[:, 1:] &= m[:, :-1]
    out[:, :-1] &= m[:, 1:]
    out[0] = out[-1] = False
    out[:, 0] = out[:, -1] = False
    return out


def _dilate(m: np.ndarray, iterations: int = 1) -> np.ndarray:
    for _ in range(iterations):
        out = m.copy()
        out[1:] |= m[:-1]
        out[:-1] |= m[1:]
        out[:, 1:] |= m[:, :-1]
        out[:, :-1] |= m[:, 1:]
        m = out
    return m


def _fill_holes(m: np.ndarray) -> np.ndarray:
    """Background components (4-connected) that do not touch the border are holes."""
    lab, n = ndimage.label(~m)
    if n == 0:
        return m.copy()
    edge = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    return m | ~np.isin(lab, edge[edge > 0]) & (lab > 0)


def _blob_box(small: np.ndarray, t: float) -> tuple[int, int, int, int] | None:
    """Box (top, bottom, left, right), in `small`'s pixels, of the head blob of `small > t`."""
    # Opening first drops 1-2 px lines (frames drawn round some images, which would otherwise enclose
    # everything); filling holes then joins the bright scalp ring to the brain across the dark skull.
    mask = _dilate(_erode(small > t))
    mask = _fill_holes(mask)
    lab, n = ndimage.label(mask)
    if n == 0:
        return None
    areas = np.bincount(lab.ravel())[1:]
    # The head is the largest blob. Other blobs count if big (a head cut in two by a dark band) or if
    # they hug the head (scalp fragments); far, small ones (letters, rulers, annotations) are dropped.
    main = areas.argmax() + 1
    near = np.unique(lab[_dilate(lab == main, iterations=3)])
    keep = [i + 1 for i, a in enumerate(areas)
            if a >= 0.2 * areas.max() or (i + 1 in near and a >= 0.002 * areas.max())]
    sel = np.isin(lab, keep)
    rows = np.flatnonzero(sel.any(axis=1))
    cols = np.flatnonzero(sel.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _threshold(small: np.ndarray) -> float | None:
    """Head/background threshold for a smoothed image, or None if it is blank or uniform."""
    lo, hi, peak = (float(v) for v in np.percentile(small, [1, 99, 99.9]))
    if peak - lo < 8:
        return None
    # "Bright tissue" level; the second term only matters for a small head in a huge black canvas,
    # where the 99th percentile of the whole image falls in the background.
    hi = max(hi, float(np.percentile(small[small > lo + 0.1 * (peak - lo)], 90)))
    # Background is near-black but JPEG noise, faint frames and burnt-in text are not: ignore anything
    # below ~10 % of the bright tissue level (Otsu is capped there so dim scalp on T2 is still found).
    return max(lo + 0.1 * (hi - lo), min(_otsu(np.clip(small, 0, 255)), lo + 0.25 * (hi - lo)))


def head_bbox(gray: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the head (bottom/right exclusive), or None for blank images.

    A ~128-px copy of the whole image finds the head and fixes the threshold; for larger images the
    edges are then placed on a ~256-px copy of the head's window (same threshold, light smoothing), so
    the crop barely depends on the file's resolution or border. 3 % margin on every side.
    """
    g = np.asarray(gray)
    h, w = g.shape
    f = max(1, max(h, w) // 128)
    if h // f < 4 or w // f < 4:
        return None
    small = ndimage.gaussian_filter(_block_mean(g, f), 1.0)
    t = _threshold(small)
    box = _blob_box(small, t) if t is not None else None
    if box is None:
        return None
    top, bottom = box[0] * f, (h if box[1] == h // f else box[1] * f)
    left, right = box[2] * f, (w if box[3] == w // f else box[3] * f)
    if f > 1:
        pad = 3 * f
        t0, b0, l0, r0 = max(0, top - pad), min(h, bottom + pad), max(0, left - pad), min(w, right + pad)
        sub = g[t0:b0, l0:r0]
        f2 = max(1, max(sub.shape) // 256)
        if f2 < f and min(sub.shape) // f2 >= 8:
            fine = ndimage.gaussian_filter(_block_mean(sub, f2), 1.0)
            box2 = _blob_box(fine, t)
            if box2 is not None:
                top, left = t0 + box2[0] * f2, l0 + box2[2] * f2
                bottom = b0 if box2[1] == sub.shape[0] // f2 else t0 + box2[1] * f2
                right = r0 if box2[3] == sub.shape[1] // f2 else l0 + box2[3] * f2
    m = int(round(0.03 * max(bottom - top, right - left)))
    return max(0, top - m), min(h, bottom + m), max(0, left - m), min(w, right + m)


def crop_head(gray: np.ndarray) -> np.ndarray:
    """Crop to the head's bounding box; blank/uniform images are returned unchanged."""
    g = np.asarray(gray)
    box = head_bbox(g)
    if box is None:
        return g
    t, b, l, r = box
    if (b - t) < 8 or (r - l) < 8:
        return g
    return g[t:b, l:r]


def pad_square(gray: np.ndarray) -> np.ndarray:
    """Centre the image on a black square canvas."""
    g = np.asarray(gray)
    h, w = g.shape
    s = max(h, w)
    if h == w:
        return g
    out = np.zeros((s, s), dtype=g.dtype)
    y, x = (s - h) // 2, (s - w) // 2
    out[y : y + h, x : x + w] = g
    return out


def prepare(gray: np.ndarray, size: int = config.IMG_SIZE) -> np.ndarray:
    """Crop to the head, pad to a square, resize to (size, size) uint8: the one model-input transform."""
    g = np.asarray(gray)
    if g.ndim != 2:
        raise ImageError(f"expected a 2-D grayscale array, got shape {g.shape}")
    if g.dtype != np.uint8:
        g = _rescale(g, 0.0, 100.0) if g.dtype.kind == "f" or g.max(initial=0) > 255 else g.astype(np.uint8)
    sq = pad_square(crop_head(g))
    if sq.shape[0] == size:
        return np.ascontiguousarray(sq, dtype=np.uint8)
    # Pillow's BILINEAR widens its kernel when shrinking (area-like, anti-aliased).
    im = Image.fromarray(np.ascontiguousarray(sq, dtype=np.uint8), mode="L")
    return np.asarray(im.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def preprocess(source: Source, size: int = config.IMG_SIZE, *, name: str | None = None) -> np.ndarray:
    """decode + prepare, exactly as the training arrays were made."""
    return prepare(decode(source, name=name, draft=2 * size).gray, size)


def preprocess_many(sources: Sequence[Source], size: int = config.IMG_SIZE, *, workers: int | None = None,
                    progress: bool = False) -> np.ndarray:
    """Preprocess many sources -> uint8 [N, size, size] (parallel for paths; raises on the first bad one)."""
    sources = list(sources)
    out = np.zeros((len(sources), size, size), np.uint8)
    if not sources:
        return out
    nw = _n_workers(workers)
    all_paths = all(isinstance(s, (str, Path)) for s in sources)
    if nw <= 1 or len(sources) < 64 or not all_paths:
        for i, s in enumerate(_maybe_tqdm(sources, progress, "preprocess")):
            out[i] = _prep_one(s, size)
        return out
    chunk = 48
    starts = list(range(0, len(sources), chunk))
    with ProcessPoolExecutor(max_workers=nw, mp_context=_mp_context()) as ex:
        futs = [ex.submit(_prep_chunk, [str(p) for p in sources[i : i + chunk]], size) for i in starts]
        for i, fut in zip(starts, _maybe_tqdm(futs, progress, "preprocess", total=len(sources), step=chunk)):
            arr = fut.result()
            out[i : i + len(arr)] = arr
    return out


def _prep_one(source: Source, size: int) -> np.ndarray:
    try:
        return preprocess(source, size)
    except ImageError as e:
        label = Path(source).name if isinstance(source, (str, Path)) else "<bytes>"
        raise ImageError(f"{label}: {e}") from None


def _prep_chunk(paths: list[str], size: int) -> np.ndarray:
    out = np.empty((len(paths), size, size), np.uint8)
    for i, p in enumerate(paths):
        out[i] = _prep_one(p, size)
    return out


def _n_workers(workers: int | None) -> int:
    if workers is not None:
        return max(1, int(workers))
    env = os.environ.get("BRAIN_MRI_WORKERS")
    if env:
        return max(1, int(env))
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        n = os.cpu_count() or 1
    return max(1, min(2, n))


def _mp_context():
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    # fork is fastest, but forking a process that already runs TensorFlow's threads can deadlock.
    if "fork" in methods and "tensorflow" not in sys.modules:
        return mp.get_context("fork")
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def _maybe_tqdm(it, progress: bool, desc: str, total: int | None = None, step: int = 1):
    if not progress:
        yield from it
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        yield from it
        return
    n = total if total is not None else (len(it) if hasattr(it, "__len__") else None)
    with tqdm(total=n, desc=desc, unit="img", leave=False) as bar:
        for x in it:
            yield x
            bar.update(step if total is not None else 1)


# --------------------------------------------------------------------------------------------- arrays
def _cache_key(data_dir: Path, rel_paths: Iterable[str], size: int) -> str:
    h = hashlib.sha256()
    h.update(f"{PREPROCESS_VERSION}|{size}|".encode())
    for rel in rel_paths:
        st = (data_dir / rel).stat()
        h.update(f"{rel}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def arrays_cache_path(data_dir: Path | str, split_df, size: int = config.IMG_SIZE) -> Path:
    """Where load_arrays caches X for these rows (changes when any file, the size or the algorithm does)."""
    data_dir = Path(data_dir)
    key = _cache_key(data_dir, [str(p) for p in split_df["path"]], size)
    return config.cache_dir() / "arrays" / f"X_{size}px_{len(split_df)}_{key}.npy"


def load_arrays(data_dir, split_df, size: int = config.IMG_SIZE, progress: bool = True,
                workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Prepared images X uint8 [N, size, size] and labels y int64 [N], in split_df row order.

    ``split_df`` needs columns ``path`` (relative to data_dir) and ``label`` (canonical class name).
    X is cached as .npy under config.cache_dir(); the key covers paths, file sizes, mtimes, size and
    PREPROCESS_VERSION, so any change rebuilds it.
    """
    data_dir = Path(data_dir)
    unknown = sorted(set(split_df["label"]) - set(config.CLASSES))
    if unknown:
        raise ValueError(f"unknown labels {unknown}; expected {list(config.CLASSES)}")
    y = np.array([config.CLASSES.index(lbl) for lbl in split_df["label"]], dtype=np.int64)
    rel = [str(p) for p in split_df["path"]]
    try:
        cache = arrays_cache_path(data_dir, split_df, size)
    except FileNotFoundError as e:
        raise ImageError(f"file listed in the split is missing: {Path(e.filename).name}") from None
    if cache.exists():
        try:
            X = np.load(cache, allow_pickle=False)
            if X.shape == (len(rel), size, size) and X.dtype == np.uint8:
                return X, y
        except (OSError, ValueError):
            pass  # corrupt cache: rebuild below
    X = preprocess_many([data_dir / r for r in rel], size, workers=workers, progress=progress)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, X, allow_pickle=False)
    os.replace(tmp, cache)  # atomic: a concurrent reader never sees half a file
    _prune_cache(cache.parent, keep=40)
    return X, y


def _prune_cache(folder: Path, keep: int) -> None:
    files = sorted(folder.glob("X_*.npy"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        try:
            old.unlink()
        except OSError:
            pass
