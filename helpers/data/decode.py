"""Decode any brain-MRI slice (JPEG/PNG/.../DICOM bytes or a path) to an 8-bit grayscale array.

``decode(source)`` returns a ``Decoded`` (gray, format, mode, size, warnings, safe DICOM fields); it raises
``errors.ImageError`` with a one-line message for anything it cannot or will not read. Preparing the array for a model
is ``data.prepare``.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from struct import error as struct_error
from typing import Union

import numpy as np
from PIL import Image, ImageOps

from .. import config
from ..errors import ImageError


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


def rescale(a: np.ndarray, lo_pct: float = 0.5, hi_pct: float = 99.5) -> np.ndarray:
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
        return rescale(np.asarray(im))
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
        gray = rescale(arr, 0.0, 100.0)
    else:
        values = apply_modality_lut(arr, ds)  # RescaleSlope/Intercept (or Modality LUT)
        if "WindowCenter" in ds and "WindowWidth" in ds:
            gray = _window(values, ds)
        elif "VOILUTSequence" in ds:
            gray = rescale(apply_voi_lut(values, ds, index=0), 0.0, 100.0)
        else:
            gray = rescale(values)  # no window stored: robust percentile window
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
        return rescale(values)
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
