"""The notebooks' run context: which data, which model folder, smoke or full, where figures go, and the banner that
says so at the top of every report notebook.
"""
from __future__ import annotations

import html
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from .. import config


SMOKE_PER_CLASS = (30, 10)  # (Training, Testing) images per class in a smoke run on real data

BANNER_SYNTHETIC = "SYNTHETIC DEMO DATA — numbers below say nothing about real MRI"

BANNER_SMOKE = "SMOKE RUN — a small subsample and tiny models: the numbers test the pipeline, they are not results"

# ------------------------------------------------------------------------------------------------ notebook context
@dataclass
class RunContext:
    """Where a notebook reads and writes, resolved once per notebook by `context()`."""

    root: Path  # dataset folder actually used (synthetic, smoke subset or real)
    synthetic: bool
    smoke: bool
    out_dir: Path  # reports/ (or a temp folder): executed notebooks, summary.json, eda.json
    fig_dir: Path  # figures/ for a full run on real data; <out_dir>/figures otherwise
    model_dir: Path  # models/ for real data; <out_dir>/models for smoke or synthetic runs
    seed: int = config.SEED
    source_root: Path | None = None  # the real dataset a smoke subset was drawn from
    notes: list[str] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)  # figures written by save(), relative paths

    @property
    def real(self) -> bool:
        """Real data at full size: the only case whose numbers are results."""
        return not self.synthetic and not self.smoke

    def save(self, fig, name: str) -> None:
        """Save a figure into fig_dir, silently (the report shows the figure, not a write-log; returns nothing so
        that a cell ending with it shows the figure, not a list of paths). The files are listed in `self.saved`."""
        from .plots import save_fig

        self.saved.extend(show_path(p, self) for p in save_fig(fig, name, self.fig_dir))

    def show(self, p: str | Path) -> str:
        return show_path(p, self)


def show_path(p: str | Path, ctx: RunContext | None = None) -> str:
    """A path as a reader should see it: relative to the project, the dataset ($BRAIN_MRI_DATA) or the output
    folder — never an absolute path of this machine (executed notebooks are committed)."""
    p = Path(os.path.abspath(p))
    anchors: list[tuple[Path, str]] = []
    if ctx is not None:
        anchors += [(ctx.out_dir, "<output>"), (ctx.root, "<data>")]
        if ctx.source_root is not None:
            anchors.append((ctx.source_root, "<data>"))
    if os.environ.get("BRAIN_MRI_DATA"):
        anchors.append((Path(os.environ["BRAIN_MRI_DATA"]), "$BRAIN_MRI_DATA"))
    anchors.append((config.PROJ_ROOT, ""))
    for base, tag in anchors:
        try:
            rel = p.relative_to(Path(os.path.abspath(base))).as_posix()
        except ValueError:
            continue
        if not tag:
            return rel
        return tag if rel == "." else f"{tag}/{rel}"
    return p.name


def smoke_subset(root: str | Path, dest: str | Path, per_class: tuple[int, int] = SMOKE_PER_CLASS,
                 seed: int = config.SEED) -> Path:
    """A small stratified copy of a real dataset, made of symlinks (copies where links are not allowed):
    `per_class` = (Training, Testing) files per class, seeded. The whole pipeline (manifest, audit, split,
    training, evaluation) then runs on it unchanged, in seconds. Idempotent."""
    import numpy as np

    from ..data.layouts import detect_layout, list_image_files

    root, dest = Path(root), Path(dest)
    marker = dest / ".smoke-subset.json"
    params = {"source": str(Path(os.path.abspath(root))), "per_class": list(per_class), "seed": int(seed)}
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == params:
                return dest
        except ValueError:
            pass
    if dest.exists():
        shutil.rmtree(dest)
    layout = detect_layout(root)
    files = list_image_files(root, layout)
    rng = np.random.default_rng(seed)
    dest.mkdir(parents=True, exist_ok=True)
    for (tag, n) in (("train", per_class[0]), ("test", per_class[1]), ("none", per_class[0])):
        for label in sorted({lab for _, t, lab in files if t == tag}):
            pool = [p for p, t, lab in files if t == tag and lab == label]
            for rel in sorted(rng.choice(pool, size=min(n, len(pool)), replace=False)):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    target.symlink_to(Path(os.path.abspath(root / rel)))
                except OSError:
                    shutil.copy2(root / rel, target)
    marker.write_text(json.dumps(params))
    return dest


def context(data_dir: str | Path | None = None, smoke: bool = False, output_dir: str | Path | None = None,
            model_dir: str | Path | None = None, seed: int = config.SEED) -> RunContext:
    """Resolve the data and the output folders for a notebook.

    No dataset -> synthetic phantoms (helpers.data.synthetic). Smoke run on real data -> a symlinked subsample under
    <output>/smoke-data. Figures go to figures/ only for a full run on real data, so smoke or synthetic output
    never overwrites the committed figures; models likewise go to <output>/models.
    """
    from ..data.layouts import resolve_data_dir
    from ..data.synthetic import is_synthetic

    out = Path(output_dir) if output_dir else config.REPORTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    root = resolve_data_dir(data_dir, allow_synthetic=True)
    synthetic = is_synthetic(root)
    source = None
    if smoke and not synthetic:
        source = root
        root = smoke_subset(root, out / "smoke-data" / config.DATASET_NAME, seed=seed)
    real = not smoke and not synthetic
    fig_dir = config.FIGURES_DIR if real else out / "figures"
    if model_dir:
        mdir = Path(model_dir)
    else:
        mdir = config.MODELS_DIR if real else out / "models"
    fig_dir.mkdir(parents=True, exist_ok=True)
    mdir.mkdir(parents=True, exist_ok=True)
    return RunContext(root=root, synthetic=synthetic, smoke=smoke, out_dir=out, fig_dir=fig_dir, model_dir=mdir,
                      seed=seed, source_root=source)


def banner(ctx: RunContext):
    """An HTML box saying what the data is: a loud red one for phantoms, an amber one for smoke runs,
    a quiet line for the real data."""
    from IPython.display import HTML

    if ctx.synthetic:
        return HTML(
            '<div style="border:3px solid #cf222e;background:#ffebe9;padding:10px 14px;margin:6px 0;'
            'font-size:1.15em;font-weight:bold;color:#82071e">&#9888; ' + html.escape(BANNER_SYNTHETIC) +
            '<div style="font-weight:normal;font-size:0.85em;margin-top:4px">No dataset was found, so this run '
            'uses computer-generated phantoms (helpers/data/synthetic.py) to show that the pipeline works. '
            'Set <code>BRAIN_MRI_DATA</code> or run <code>make data</code> for the real report.</div></div>')
    if ctx.smoke:
        return HTML(
            '<div style="border:2px solid #bf8700;background:#fff8c5;padding:8px 12px;margin:6px 0;'
            'font-weight:bold;color:#6f4b00">' + html.escape(BANNER_SMOKE) + "</div>")
    return HTML('<div style="color:#57606a;font-size:0.9em">Data: the Kaggle Brain Tumor MRI dataset '
                f'(<code>{html.escape(show_path(ctx.root, None))}</code>); full run.</div>')


def describe(ctx: RunContext) -> str:
    """One line saying what this run uses (for a print right under the banner)."""
    kind = "synthetic phantoms" if ctx.synthetic else ("smoke subset of the real data" if ctx.smoke else "real data")
    return (f"data: {kind} at {ctx.show(ctx.root)} | figures -> {ctx.show(ctx.fig_dir)} | "
            f"models -> {ctx.show(ctx.model_dir)}")
