"""Cut 2-D slices out of NIfTI volumes the way the healthy-extra collection was cut, and write them as JPEG.

The volume is reoriented to RAS (nibabel's closest canonical), windowed on percentiles of its nonzero voxels (one
window for the whole volume, so an edge slice stays darker than a mid slice), and each slice is resampled to its
physical aspect ratio from the voxel sizes, superior (coronal, sagittal) or anterior (axial) up. Left-right is not
normalised: columns run toward the patient's right in axial and coronal slices, toward the face in sagittal ones.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from ..errors import DataError

# The plane is named by the RAS axis held fixed: x (left-right), y (posterior-anterior), z (inferior-superior).
PLANE_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}
SIZE = 256  # longest side of a written slice, as in the reference copy
JPEG_QUALITY = 85  # the reference copy's quantisation tables are libjpeg's at quality 85


class Volume(NamedTuple):
    data: np.ndarray  # float32 in [0, 1], RAS voxel order
    zooms: tuple[float, float, float]  # voxel size in mm along x, y, z


def window(data: np.ndarray, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """`data` scaled to [0, 1] between the `low` and `high` percentiles of its nonzero voxels (the zero background
    would otherwise pull the lower bound to 0 and wash the brain out)."""
    inside = data[data != 0]
    if inside.size == 0:
        return np.zeros(data.shape, np.float32)
    lo, hi = np.percentile(inside, [low, high])
    if hi <= lo:
        hi = lo + 1
    return np.clip((data - lo) / (hi - lo), 0, 1).astype(np.float32)


def load(path: str | Path) -> Volume:
    """The volume at `path` (.nii or .nii.gz) in RAS order, windowed; 4-D series give their first volume."""
    import nibabel as nib  # lazy: only fetching healthy-extra needs it

    try:
        img = nib.as_closest_canonical(nib.load(str(path)))
        data = np.asarray(img.dataobj, dtype=np.float32)
    except Exception as e:  # noqa: BLE001 - nibabel raises many types for a bad file; the user needs one line
        raise DataError(f"cannot read NIfTI volume {Path(path).name}: {e}") from None
    while data.ndim > 3:
        data = data[..., 0]
    if data.ndim != 3:
        raise DataError(f"{Path(path).name} is not a 3-D volume (shape {data.shape})")
    zooms = tuple(float(z) for z in img.header.get_zooms()[:3])
    return Volume(window(np.nan_to_num(data)), zooms)


def slice_of(volume: Volume, plane: str, index: int, size: int = SIZE) -> np.ndarray:
    """Slice `index` along `plane` of a loaded volume: uint8, physical aspect ratio, longest side `size`."""
    if plane not in PLANE_AXIS:
        raise DataError(f"unknown plane {plane!r} (expected one of {', '.join(PLANE_AXIS)})")
    axis = PLANE_AXIS[plane]
    n = volume.data.shape[axis]
    if not 0 <= index < n:
        raise DataError(f"{plane} slice {index} is outside the volume (0..{n - 1})")
    cut = np.take(volume.data, index, axis=axis)  # axes: the two remaining RAS axes, in order
    dx, dy = (z for i, z in enumerate(volume.zooms) if i != axis)
    # rot90 puts the second remaining axis (anterior in axial, superior otherwise) up, the first to the right.
    image = np.rot90(cut)
    width, height = cut.shape[0] * dx, cut.shape[1] * dy
    scale = size / max(width, height)
    shape = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(np.ascontiguousarray(image), mode="F").resize(shape, Image.BILINEAR)
    return np.clip(np.rint(np.asarray(resized) * 255), 0, 255).astype(np.uint8)


def cut(volume_path: str | Path, plane: str, index: int, size: int = SIZE) -> np.ndarray:
    """Slice `index` along `plane` ('axial', 'coronal' or 'sagittal', voxel index in RAS order) of the volume at
    `volume_path`, as a uint8 image at its physical aspect ratio with longest side `size`."""
    return slice_of(load(volume_path), plane, index, size)


def write_jpeg(image: np.ndarray | Image.Image, dest: str | Path, size: int = SIZE) -> Path:
    """Write `image` as a grayscale JPEG whose longest side is `size` (aspect kept), through a temporary file so an
    interrupted run never leaves a half-written slice that a resumed run would take as done."""
    im = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, np.uint8))
    im = to_gray(im)
    if max(im.size) != size:
        scale = size / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BILINEAR)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    im.save(tmp, format="JPEG", quality=JPEG_QUALITY)
    tmp.replace(dest)
    return dest


def to_gray(im: Image.Image) -> Image.Image:
    """8-bit grayscale; 16-bit and float images are scaled by their maximum (PIL's convert('L') would clip them)."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        a = np.asarray(im, dtype=np.float32)
        top = float(a.max()) or 1.0
        return Image.fromarray(np.clip(a / top * 255, 0, 255).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        flat = Image.new("RGBA", im.size, (0, 0, 0, 255))  # transparent pixels become black, not white
        im = Image.alpha_composite(flat, im)
    return im.convert("L")
