"""`brain-mri predict`: the dashboard's pipeline (app.upload.process_upload: size cap, decode, input checks, the
call) over files and folders, printed as CSV.

The CLI and the dashboard give one call for one file because both go through process_upload and decide_call.
"""
from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Iterable, Iterator

from .. import config
from ..errors import ModelError
from ..formatting import megabytes
from .upload import Result, process_upload

# Files a folder is searched for; an extension-less file counts when it is DICOM (scanners write names like IM0001).
SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".dcm", ".dicom"}

# `prediction` names the class on the side of the call threshold (modeling.predictor.decide); `call` is
# upload.decide_call's, `reason` its one line; `unfamiliar` 1 when the slice is unlike the training collections
# (empty for a model without that check); `warnings` the input checks' (" | " between them). A "no verdict" row
# leaves the probabilities empty: the dashboard shows none for it either.
CSV_HEADER = ["path", *config.CLASSES, "p_tumour", "prediction", "call", "reason", "unfamiliar", "warnings"]


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(132)[128:] == b"DICM"
    except OSError:
        return False


def expand(paths: Iterable[str]) -> Iterator[tuple[str, str | None]]:
    """(path as the user wrote it, or joined onto it for a folder's files; an error or None) per input file.

    A folder is searched recursively, in sorted order, for images and DICOM files."""
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")
                           and (f.suffix.lower() in SUFFIXES or (f.suffix == "" and _is_dicom(f))))
            if not found:
                yield given, "no JPEG, PNG or DICOM files in this folder"
            for f in found:
                yield os.path.join(given, f.relative_to(p).as_posix()), None
        elif not p.exists():
            yield given, "no such file or folder"
        elif not p.is_file():
            yield given, "not a file or folder"
        else:
            yield given, None


def predict_path(shown: str, predictor) -> Result:
    """The Result for one file, read from disk (size cap before reading), through process_upload."""
    try:
        n = os.path.getsize(shown)
        if n > config.MAX_UPLOAD_BYTES:
            return Result(name=shown, n_bytes=n, error=f"file too large ({megabytes(n)}; the limit is "
                                                       f"{megabytes(config.MAX_UPLOAD_BYTES)})")
        data = Path(shown).read_bytes()
    except OSError as e:
        return Result(name=shown, error=f"cannot read it: {e.strerror or type(e).__name__}")
    return process_upload(shown, data, predictor, with_gradcam=False)


def predict_paths(paths: Iterable[str], predictor) -> Iterator[Result]:
    """One Result per input file (folders expanded), in order; unreadable inputs become Results with `error`."""
    for shown, err in expand(paths):
        yield Result(name=shown, error=err) if err else predict_path(shown, predictor)


def csv_row(res: Result) -> list:
    """The CSV row of a result that has a call (CSV_HEADER's columns)."""
    warnings = " | ".join(w for w in res.warnings if w != res.call_reason)
    unfamiliar = "" if res.familiarity_score is None else int(res.unfamiliar)
    if res.call == "no verdict" or res.probs is None:
        return [res.name, *([""] * (len(config.CLASSES) + 2)), res.call, res.call_reason, unfamiliar, warnings]
    probs = dict(zip(res.classes, res.probs))
    return [res.name, *(f"{probs[c]:.4f}" for c in config.CLASSES), f"{res.p_tumour:.4f}", res.predicted,
            res.call, res.call_reason, unfamiliar, warnings]


def cli_predict(args) -> int:
    """`brain-mri predict PATH... [--model M]`: CSV on stdout (the header only once a file has a row), one
    `path: error: message` line on stderr per unusable file. Exit 0 if every file got a row, 1 if any failed,
    2 if the model could not be loaded."""
    from ..modeling.runtime import load_model  # the dashboard's runtime: ONNX when the model has an export

    try:
        predictor = load_model(getattr(args, "model", None))
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from .registry import model_gaps

    for gap in model_gaps(predictor.meta):
        print(f"warning: {predictor.name}: {gap.removeprefix('this model ')}", file=sys.stderr)
    w = csv.writer(sys.stdout, lineterminator="\n")
    failed = rows = 0
    for res in predict_paths(args.images, predictor):
        if res.error:
            failed += 1
            print(f"{res.name}: error: {res.error}", file=sys.stderr)
            continue
        if not rows:
            w.writerow(CSV_HEADER)
        rows += 1
        w.writerow(csv_row(res))
        sys.stdout.flush()  # a long folder shows progress row by row
    return 1 if failed else 0
