"""The report: run the numbered notebooks with papermill, and the small helpers those notebooks share.

`run_report` executes notebooks/0*.ipynb in order into reports/ (executed .ipynb + HTML). A failing cell stops
the run and names the notebook, the cell and the error; the partly executed notebook is kept for reading.
Inside the notebooks, `context(...)` resolves the data (synthetic phantoms when there is none, a symlinked
subsample of real data in smoke runs), decides where figures and models go, and `banner(ctx)` says loudly what
the numbers are worth.
"""
from __future__ import annotations

import html
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .. import config, records
from ..records import trained_on

KERNEL = "python3"
# Each notebook's wall-clock limit per cell (a real evaluation of ~2,400 images takes a few minutes).
CELL_TIMEOUT_S = 1800
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

    @property
    def real(self) -> bool:
        """Real data at full size: the only case whose numbers are results."""
        return not self.synthetic and not self.smoke

    def save(self, fig, name: str) -> None:
        """Save a figure into fig_dir and print where it went (relative paths only; returns nothing so that a
        cell ending with it shows the figure, not a list of paths)."""
        from .plots import save_fig

        paths = save_fig(fig, name, self.fig_dir)
        print("saved", ", ".join(show_path(p, self) for p in paths))

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


# ------------------------------------------------------------------------------------------------ results
def evaluation_status(meta: dict | None, split_sha: str | None = None, synthetic: bool | None = None) -> tuple[bool, str]:
    """(usable, reason) for the "evaluation" block of a model record: missing, made on another split (sha256
    mismatch) or on the other kind of data (synthetic vs real) -> not usable."""
    if not meta:
        return False, "no model record"
    ev = meta.get("evaluation")
    if not ev:
        return False, "no evaluation recorded yet"
    if split_sha and ev.get("split_sha256") and ev["split_sha256"] != split_sha:
        return False, f"stale: evaluated on split {ev['split_sha256'][:12]}, current split is {split_sha[:12]}"
    if synthetic is not None and "synthetic" in ev and bool(ev["synthetic"]) != bool(synthetic):
        return False, "stale: evaluated on " + ("synthetic" if ev["synthetic"] else "real") + " data"
    if meta.get("keras_sha256") and ev.get("keras_sha256") and ev["keras_sha256"] != meta["keras_sha256"]:
        return False, "stale: the weights changed since the evaluation (keras_sha256 mismatch)"
    return True, f"recorded evaluation from {ev.get('evaluated_at', '?')}"


def metric(block: dict | None, *keys, fmt: str = "{:.1%}", ci: bool = True, missing: str = "n/a") -> str:
    """Format a metric from a nested results dict: metric(ev, 'leakfree_test', 'accuracy') -> '91.2% (89.5–92.8%)'.
    Accepts {"value", "ci"} dicts or bare numbers; returns `missing` when any key is absent."""
    cur = block
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return missing
        cur = cur[k]
    if isinstance(cur, dict):
        v, c = cur.get("value"), cur.get("ci")
    else:
        v, c = cur, None
    if v is None:
        return missing
    s = fmt.format(v)
    if ci and c and len(c) == 2 and c[0] is not None:
        s += f" ({fmt.format(c[0])}–{fmt.format(c[1])})"
    return s


def value(block: dict | None, *keys, default=None):
    """The bare number at block[keys...] ({"value": x} unwrapped), or `default`."""
    cur = block
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return default
        cur = cur[k]
    if isinstance(cur, dict) and "value" in cur:
        return cur["value"]
    return cur


# ------------------------------------------------------------------------------------------------ running
def notebook_paths(names: Sequence[str] | None = None) -> list[Path]:
    """The report's notebooks in order (notebooks/0*.ipynb), or those whose file name starts with one of `names`."""
    found = sorted(config.NOTEBOOKS_DIR.glob("0*.ipynb"))
    if names:
        found = [p for p in found if any(p.name.startswith(n) or p.stem == n for n in names)]
        if not found:
            raise FileNotFoundError(f"no report notebook matches {list(names)} in {show_path(config.NOTEBOOKS_DIR)}")
    return found


class ReportError(RuntimeError):
    """A notebook failed; the message names the notebook, the cell and the error."""

    def __init__(self, message: str, notebook: str, cell_index: int | None, output: Path | None):
        super().__init__(message)
        self.notebook, self.cell_index, self.output = notebook, cell_index, output


def _declared_parameters(path: Path) -> set[str]:
    import papermill as pm

    return set(pm.inspect_notebook(str(path)))


def _sanitise(nb_path: Path, strip_injected: bool) -> None:
    """Remove machine-specific traces papermill leaves: absolute paths in its metadata and, for copies committed to
    notebooks/, the injected-parameters cell (its values equal the defaults in a full run)."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    meta = nb.metadata.get("papermill", {})
    for k in ("input_path", "output_path"):
        if meta.get(k):
            meta[k] = Path(meta[k]).name
    params = meta.get("parameters") or {}
    for k, v in list(params.items()):
        if isinstance(v, str) and os.path.isabs(v):
            params[k] = show_path(v)
    if strip_injected:
        nb.cells = [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    nbformat.write(nb, nb_path)


def to_html(nb_path: Path, html_path: Path | None = None) -> Path:
    """Export an executed notebook to standalone HTML; cells tagged remove-input show only their output."""
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.remove_input_tags = {"remove-input", "hide-input"}
    c.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    c.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=c)
    exporter.register_preprocessor("nbconvert.preprocessors.TagRemovePreprocessor", enabled=True)
    body, _ = exporter.from_notebook_node(nbformat.read(nb_path, as_version=4))
    html_path = html_path or nb_path.with_suffix(".html")
    html_path.write_text(body, encoding="utf-8")
    return html_path


def execute(nb_in: Path, nb_out: Path, parameters: dict, timeout: int = CELL_TIMEOUT_S) -> float:
    """Execute one notebook with papermill in the notebooks folder (relative paths behave as in Jupyter).

    The 'python3' kernelspec resolves to this interpreter: jupyter_client replaces a kernelspec argv of
    'python' with sys.executable, so a run started from the venv executes in the venv. Returns seconds.
    Raises ReportError naming the notebook, the cell and the error; the partial output stays at nb_out."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    declared = _declared_parameters(nb_in)
    params = {k: v for k, v in parameters.items() if k in declared}
    t0 = time.time()
    try:
        pm.execute_notebook(str(nb_in), str(nb_out), parameters=params, kernel_name=KERNEL, cwd=str(nb_in.parent),
                            progress_bar=False, log_output=False, execution_timeout=timeout)
    except PapermillExecutionError as e:
        msg = (f"{nb_in.name} failed at cell {e.cell_index} (execution count {e.exec_count}): {e.ename}: "
               f"{str(e.evalue).strip().splitlines()[0] if str(e.evalue).strip() else ''}")
        raise ReportError(msg, nb_in.name, e.cell_index, nb_out) from None
    except Exception as e:  # noqa: BLE001 - kernel died, timeout, bad JSON: still one line naming the notebook
        first = (str(e).strip().splitlines() or [""])[0]
        raise ReportError(f"{nb_in.name} failed: {type(e).__name__}: {first[:300]}", nb_in.name, None,
                          nb_out if nb_out.exists() else None) from None
    return time.time() - t0


def _children_cpu() -> float:
    """CPU seconds used so far by finished child processes (the kernels): a timing that a busy machine
    does not inflate the way it inflates wall time."""
    try:
        import resource

        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime
    except (ImportError, OSError):  # not on every platform
        return 0.0


def inplace_refusal(smoke: bool, data_dir: str | Path | None = None, notebooks_dir: str | Path | None = None) -> str | None:
    """Why an `--inplace` run must not write into the project's notebooks/ (None: it may). The committed notebooks
    are the full report on the real data; a smoke run or synthetic phantoms (no dataset found) there would replace
    every number with demo output and still pass every test. Copies of notebooks/ elsewhere (tests) are not guarded."""
    nb_dir = Path(notebooks_dir or config.NOTEBOOKS_DIR).resolve()
    if nb_dir != (config.PROJ_ROOT / "notebooks").resolve():
        return None
    head = "--inplace rewrites the committed report in notebooks/"
    if smoke:
        return f"{head}; a smoke run must not (drop --smoke or --inplace)"
    from ..data.layouts import resolve_data_dir
    from ..data.synthetic import is_synthetic

    if is_synthetic(resolve_data_dir(data_dir, allow_synthetic=True)):
        return (f"{head}; no dataset was found, and synthetic phantoms must not replace it "
                "(set $BRAIN_MRI_DATA or pass --data-dir)")
    return None


def run_report(smoke: bool = False, retrain: bool = False, data_dir: str | Path | None = None,
               out_dir: str | Path = config.REPORTS_DIR, inplace: bool = False,
               notebooks: Sequence[str] | None = None, parameters: dict | None = None,
               html_export: bool = True, log=print) -> list[dict]:
    """Execute the report notebooks in order into `out_dir` (executed .ipynb + .html) and return one record per
    notebook ({"notebook", "seconds", "output", "html"}).

    Parameters passed to every notebook that declares them: SMOKE, RETRAIN, DATA_DIR, OUTPUT_DIR, plus `parameters`
    (e.g. {"MODEL_DIR": ...}); `notebooks` picks some by name prefix ("02"). `inplace=True` also copies the
    executed notebooks back into notebooks/ once all succeeded (the committed full run; refused up front, with a
    ValueError, for a smoke run or phantoms: inplace_refusal). Raises ReportError on the first failing cell.
    """
    paths = notebook_paths(notebooks)
    why = inplace_refusal(smoke, data_dir) if inplace else None
    if why:  # before any notebook runs: minutes of work would end in a refused copy
        raise ValueError(why)
    if os.environ.get("BRAIN_MRI_DATA"):  # kernels run in notebooks/: a relative path would point elsewhere
        os.environ["BRAIN_MRI_DATA"] = str(Path(os.environ["BRAIN_MRI_DATA"]).expanduser().resolve())
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernels inherit it: no TensorFlow start-up chatter
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = {"SMOKE": bool(smoke), "RETRAIN": bool(retrain),
              "DATA_DIR": str(Path(data_dir).expanduser().resolve()) if data_dir else None,
              "OUTPUT_DIR": str(out.resolve()), **(parameters or {})}
    records = []
    t_all = time.time()
    for i, nb in enumerate(paths, 1):
        target = out / nb.name
        cpu0 = _children_cpu()
        try:
            secs = execute(nb, target, params)
        except ReportError as e:
            if e.output is not None and e.output.exists():
                _sanitise(e.output, strip_injected=False)
                if html_export:
                    try:
                        to_html(e.output)
                    except Exception:  # noqa: BLE001 - the .ipynb is what matters when reporting a failure
                        pass
            raise
        _sanitise(target, strip_injected=False)
        cpu = _children_cpu() - cpu0
        rec = {"notebook": nb.name, "seconds": round(secs, 1), "cpu_seconds": round(cpu, 1), "output": target}
        if html_export:
            rec["html"] = to_html(target)
        records.append(rec)
        log(f"[{i}/{len(paths)}] {nb.name:<24} {secs:6.1f} s  (kernel CPU {cpu:5.1f} s)")
    if inplace:
        for rec, nb in zip(records, paths):
            shutil.copyfile(rec["output"], nb)
            _sanitise(nb, strip_injected=True)
        log(f"copied {len(records)} executed notebooks back into {show_path(config.NOTEBOOKS_DIR)}/")
    log(f"report: {len(records)} notebooks in {time.time() - t_all:.0f} s -> {show_path(out)}/")
    return records


def cli_report(args) -> int:
    """`brain-mri report [--smoke] [--retrain] [--data-dir D] [--out-dir O] [--inplace]`; exit 1 on a failed cell.

    Environment variables SMOKE, RETRAIN (1/true/yes) and DATA_DIR are honoured when the flags are absent."""
    def env_flag(name: str) -> bool:
        return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")

    smoke = bool(getattr(args, "smoke", False)) or env_flag("SMOKE")
    retrain = bool(getattr(args, "retrain", False)) or env_flag("RETRAIN")
    data_dir = getattr(args, "data_dir", None) or os.environ.get("DATA_DIR") or None
    out_dir = getattr(args, "out_dir", None) or config.REPORTS_DIR
    try:
        run_report(smoke=smoke, retrain=retrain, data_dir=data_dir, out_dir=out_dir,
                   inplace=bool(getattr(args, "inplace", False)))
    except ReportError as e:
        where = f"; partial output kept at {show_path(e.output)}" if e.output else ""
        print(f"error: {e}{where}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------------------------------------------------------ baselines
BASELINE_NAMES = {"nearest_class_mean": "nearest class mean (pixels)", "metadata_only": "metadata only (no pixels)",
                  "majority_class": "majority class (floor)", "nearest_class_mean_cosine": "nearest class mean (cosine)",
                  "intensity_only": "intensity profile only (no layout)"}


def get_baselines(ctx: RunContext, bootstrap: int | None = None, size: int | None = None,
                  refresh: bool | None = None) -> dict | None:
    """The baselines of helpers.evaluation.baselines for this run's data: <model_dir>/baselines.json when it was computed on
    the current split and the same kind of data, else computed now and written there (smoke runs: with a small
    bootstrap). None, with a printed reason, if helpers.evaluation.baselines is unavailable."""
    from ..data.split import load_split

    path = ctx.model_dir / "baselines.json"
    sha = load_split("leakfree", ctx.root).attrs.get("sha256")
    rec = records.read_json(path)
    if refresh is None:
        from ..evaluation.baselines import PROFILE_PREDICTIONS, VERSION

        refresh = (rec is None or rec.get("split_sha256") != sha or bool(rec.get("synthetic")) != ctx.synthetic
                   or rec.get("version") != VERSION or not (ctx.model_dir / PROFILE_PREDICTIONS).is_file())
    if rec is not None and not refresh:
        print(f"baselines: recorded in {ctx.show(path)} ({rec.get('computed_at', '?')})")
        return rec
    try:
        from ..evaluation import baselines
    except ImportError as e:
        print(f"helpers.evaluation.baselines is not available ({e}): baselines skipped")
        return None
    boot = bootstrap if bootstrap is not None else (100 if ctx.smoke else 1000)
    rec = baselines.run_baselines(ctx.root, bootstrap=boot, out=path, progress=False,
                                  size=size or config.IMG_SIZE)
    print(f"baselines: computed now in {rec.get('wall_s', '?')} s -> {ctx.show(path)}")
    return rec


def baseline_table(rec: dict | None, names: Sequence[str] | None = None):
    """Accuracy and macro-F1 (with CIs when recorded) of the baselines on the leak-free and official test sets."""
    import pandas as pd

    if not rec:
        print("no baseline results")
        return None
    rows = []
    default = [k for k in ("majority_class", "metadata_only", "intensity_only", "nearest_class_mean") if k in rec]
    for key in names or default:
        b = rec.get(key)
        if not isinstance(b, dict):
            continue
        rows.append({"baseline": BASELINE_NAMES.get(key, key),
                     "leak-free accuracy": metric(b, "leakfree_test", "accuracy"),
                     "leak-free macro-F1": metric(b, "leakfree_test", "macro_f1", fmt="{:.3f}"),
                     "official accuracy": metric(b, "official_test", "accuracy")})
    return pd.DataFrame(rows).set_index("baseline") if rows else None


# ------------------------------------------------------------------------------------------------ models (03)
MODEL_NAMES = {"brain_tumor_cnn": "our model", "capstone_cnn": "capstone CNN",
               "capstone_cnn_256": "capstone CNN at 256 px (as described)",
               "capstone_cnn_official": "capstone CNN, official split (as published)"}
# What a smoke or synthetic run trains instead of the shipped models: seconds on 2 cores, on the data at hand.
SMOKE_RECIPES = {
    "brain_tumor_cnn": {"arch": "tiny", "max_train_images": 200, "epochs": 2, "img_size": 64},
    "capstone_cnn": {"arch": "capstone_cnn", "max_train_images": 200, "epochs": 1, "img_size": 64},
}


def model_names(ctx: RunContext) -> list[str]:
    """The models this run reports on: ours and the capstone CNN, plus, when their records exist in model_dir,
    `capstone_cnn_256` (the capstone's network at its own input size) and `capstone_cnn_official` (the capstone CNN
    trained on Kaggle's own Training folder, the published protocol)."""
    names = ["brain_tumor_cnn", "capstone_cnn"]
    names += [n for n in ("capstone_cnn_256", "capstone_cnn_official") if records.files(ctx.model_dir, n).record.is_file()]
    return names


def model_plan(name: str, ctx: RunContext, retrain: bool = False, epochs: int | None = None,
               img_size: int | None = None) -> dict:
    """What notebook 03 does for one model: {"name", "action": "load" | "train" | "missing", "json": Path,
    "config": dict | None, "why": str}.

    Real data: load <model_dir>/<name>.json; retrain=True re-runs its recorded recipe (`config`) into model_dir.
    Smoke or synthetic data: train a small stand-in (SMOKE_RECIPES) into <output>/models — the shipped models
    were trained on the real data and mean nothing on phantoms; with retrain=True the recorded recipe is used,
    cut down to the smoke budget.
    """
    jpath = records.files(ctx.model_dir, name).record
    shipped = records.read(config.MODELS_DIR, name)
    recorded = (shipped or {}).get("config")
    members = (shipped or {}).get("members") or []
    if ctx.real:
        if retrain:
            if not recorded:
                return {"name": name, "action": "missing", "json": jpath, "config": None,
                        "why": f"no recorded recipe in models/{name}.json to retrain from"}
            if members:  # retrain every member with its recorded recipe, then merge them again
                return {"name": name, "action": "train", "json": jpath,
                        "config": {**recorded, "member_configs": [dict(m["config"]) for m in members]},
                        "why": f"RETRAIN=True: the {len(members)} members' recorded recipes, then `brain-mri ensemble`"}
            where = trained_on(shipped)
            if where.endswith("GPU"):  # its time budget guarded a shared GPU; here it would cut the schedule short
                return {"name": name, "action": "train", "json": jpath, "config": {**recorded, "time_budget_min": 0},
                        "why": f"RETRAIN=True: the recorded recipe, on the real data (it was trained on {where}; "
                               "on a CPU it takes hours: see `make bench`)"}
            return {"name": name, "action": "train", "json": jpath, "config": dict(recorded),
                    "why": "RETRAIN=True: the recorded recipe, on the real data"}
        if jpath.is_file():
            return {"name": name, "action": "load", "json": jpath, "config": None, "why": "shipped model"}
        arch = "capstone_cnn" if name == "capstone_cnn" else "resnet_small"
        return {"name": name, "action": "missing", "json": jpath, "config": None,
                "why": f"{show_path(jpath)} not found: train it with `brain-mri train --arch {arch}`"}
    if name not in SMOKE_RECIPES:
        return {"name": name, "action": "load" if jpath.is_file() else "missing", "json": jpath, "config": None,
                "why": "recorded model" if jpath.is_file() else f"{show_path(jpath)} not found"}
    small = dict(SMOKE_RECIPES[name])
    if members:  # an ensemble: one member's recipe stands in for a smoke retrain
        recorded = members[0]["config"]
    if retrain and recorded:
        cfg = {**recorded, "max_train_images": small["max_train_images"], "epochs": small["epochs"],
               "img_size": small["img_size"], "time_budget_min": 2}
        why = "RETRAIN in a smoke/synthetic run: the recorded recipe on a small subset"
    else:
        cfg = small
        why = ("smoke run" if ctx.smoke else "synthetic data") + ": a small stand-in trained on the data at hand"
    if epochs:
        cfg["epochs"] = int(epochs)
    if img_size and ctx.smoke:
        cfg["img_size"] = int(img_size)
    cfg.update(name=name, seed=ctx.seed)
    return {"name": name, "action": "train", "json": jpath, "config": cfg, "why": why}


def run_plan(plan: dict, ctx: RunContext, verbose: int = 0) -> dict | None:
    """Carry out a model_plan: train if asked, then return the model's JSON record (None if missing)."""
    print(f"{plan['name']}: {plan['action']} — {plan['why']}")
    if plan["action"] == "missing":
        return None
    if plan["action"] == "train":
        import contextlib

        from ..modeling.train import train

        # train() prints where it saved; keep this machine's absolute paths out of the executed notebook.
        cfg = plan["config"]
        with contextlib.redirect_stdout(_Scrubbed(sys.stdout, ctx)):
            if cfg.get("arch") == "ensemble":
                from ..modeling.ensemble import build

                paths = [train(mc, data_dir=ctx.root, out_dir=ctx.model_dir, verbose=verbose).with_suffix(".keras")
                         for mc in cfg["member_configs"]]
                build(paths, plan["name"], out_dir=ctx.model_dir, data_dir=ctx.root)
            else:
                train(cfg, data_dir=ctx.root, out_dir=ctx.model_dir, verbose=verbose)
    return records.read_json(plan["json"])


class _Scrubbed:
    """A text stream that forwards to `stream` with the run's absolute folders replaced by their short names."""

    def __init__(self, stream, ctx: RunContext):
        self.stream = stream
        pairs = [(ctx.model_dir, ctx.show(ctx.model_dir)), (ctx.out_dir, "<output>"), (ctx.root, "<data>"),
                 (config.PROJ_ROOT, ".")]
        self.subs = sorted(((str(Path(os.path.abspath(a))), b) for a, b in pairs), key=lambda t: -len(t[0]))

    def write(self, text: str) -> int:
        for a, b in self.subs:
            text = text.replace(a, b)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _fmt_s(sec) -> str:
    if sec is None:
        return "n/a"
    sec = float(sec)
    return f"{sec:.0f} s" if sec < 120 else f"{sec / 60:.1f} min"


def model_table(records: dict[str, dict | None]) -> "pd.DataFrame":
    """One column per model: architecture, size, recipe, data, cost and validation results from its JSON record."""
    import pandas as pd

    cols = {}
    for name, m in records.items():
        if not m:
            continue
        c, d, v = m.get("config", {}), m.get("data", {}), m.get("validation", {})
        cols[MODEL_NAMES.get(name, name)] = {
            "architecture": m.get("arch"),
            "parameters": f"{m['params']:,}" if m.get("params") else "n/a",
            "input": f"{m.get('img_size')}×{m.get('img_size')}×1",
            "epochs run / planned": f"{m.get('epochs_run', len(m.get('history', {}).get('loss', [])))} / {c.get('epochs')}",
            "batch, learning rate": f"{c.get('batch_size')}, {c.get('lr')}",
            "label smoothing": c.get("label_smoothing"),
            "weight decay": c.get("weight_decay"),
            "width, stem pooling": (f"{(c.get('model_kwargs') or {}).get('width', 16)}, "
                                    f"{'yes' if (c.get('model_kwargs') or {}).get('stem_pool', True) else 'no'}"
                                    if c.get("arch") == "resnet_small" else "n/a"),
            "augmentation": "none" if c.get("arch") == "capstone_cnn" or (c.get("model_kwargs") or {}).get("augment") == 0
                            or c.get("arch") == "tiny" else "flips, rotation, shift, zoom, contrast, brightness"
                            + (" (one resampling)" if (c.get("model_kwargs") or {}).get("augment_layer") == "affine"
                               else ""),
            "train / val images": f"{d.get('n_train', 'n/a'):,} / {d.get('n_val', 'n/a'):,}"
                                  if isinstance(d.get("n_train"), int) else "n/a",
            "training wall time": _fmt_s(m.get("train_wall_s")),
            "training images/s": m.get("train_images_per_s"),
            "val accuracy": f"{v['accuracy']:.1%}" if "accuracy" in v else "n/a",
            "temperature": f"{m['temperature']:.3f}" if m.get("temperature") else "n/a",
            "test-time augmentation": m.get("tta") or "none",
            "val ECE raw → calibrated": (f"{v['ece_raw']:.3f} → {v['ece_calibrated']:.3f}"
                                         if "ece_raw" in v else "n/a"),
            "synthetic data": d.get("synthetic"),
            "split sha256": (d.get("split_sha256") or "")[:12],
            "trained at": m.get("trained_at"),
            "Keras / backend": "{} / {} {}".format(m.get("versions", {}).get("keras"),
                                                   m.get("versions", {}).get("backend", "tensorflow"),
                                                   m.get("versions", {}).get(m.get("versions", {}).get("backend",
                                                                                                      "tensorflow"))),
        }
    return pd.DataFrame(cols)


def summary_text(model) -> str:
    """keras model.summary() captured as text (for a compact print in the notebook)."""
    lines: list[str] = []
    model.summary(print_fn=lambda s, **kw: lines.append(s), line_length=96)
    return "\n".join(lines)


def layer_table(model) -> "pd.DataFrame":
    """Layers grouped by type: how many and how many parameters (a one-screen view of an architecture)."""
    import pandas as pd

    rows = [{"type": type(layer).__name__, "params": layer.count_params()} for layer in model.layers]
    t = pd.DataFrame(rows).groupby("type", sort=False).agg(layers=("params", "size"), params=("params", "sum"))
    return t.sort_values("params", ascending=False)


def member_records(meta: dict | None, model_dir: Path) -> dict[str, dict]:
    """{member name: its JSON record} for an ensemble record (members whose record is missing are left out)."""
    out = {}
    for mem in (meta or {}).get("members") or []:
        rec = records.read(model_dir, mem["name"]) or records.read(records.locate(mem["name"]).record)
        if rec:
            out[mem["name"]] = rec
    return out


def training_histories(meta: dict | None, model_dir: Path) -> dict:
    """What plots.training_curves draws for a record: its history, or for an ensemble {member: history}."""
    if meta and meta.get("members"):
        return {name: rec.get("history", {}) for name, rec in member_records(meta, model_dir).items()}
    return (meta or {}).get("history", {})


def architecture_markdown(meta: dict, model_dir: Path) -> str:
    """One line on what the loaded model is: a single network, or an ensemble and its members."""
    c = meta.get("config") or {}
    if meta.get("members"):
        mems = "; ".join(f"`{m['name']}` (seed {(m.get('config') or {}).get('seed')}, {m.get('epochs_run')} epochs"
                         + (f", val accuracy {m['val_accuracy']:.1%}" if isinstance(m.get("val_accuracy"), float) else "")
                         + ")" for m in meta["members"])
        return (f"`{meta['name']}` is an **ensemble**: the mean logits of {len(meta['members'])} networks trained "
                f"with the same recipe and different seeds — {mems} — merged into one model of {meta['params']:,} "
                f"parameters by `brain-mri ensemble` (the members' feature maps are concatenated as `last_conv`, so "
                f"Grad-CAM explains the whole ensemble).")
    from .model_card import net_label
    kw = c.get("model_kwargs") or {}
    arch = str(meta.get("arch"))
    label = f"`{arch}`" + net_label({"arch": arch, **c})[len(arch):]  # "`resnet_small` (width 32, ...)"
    aug = (", augmentation by one resampling (`RandomAffineAugment`)" if kw.get("augment_layer") == "affine" else "")
    run = f" (run `{meta['run_name']}`)" if meta.get("run_name") else ""
    return (f"`{meta['name']}`{run}: {label}, {meta.get('params', 0):,} parameters, seed {c.get('seed')}{aug}; "
            f"trained on {trained_on(meta)}.")


def training_notes(records: dict[str, dict | None], model_dir: Path | None = None) -> str:
    """Markdown bullets of each model's training facts (best epoch, final train-val gap, cost), from its record;
    an ensemble's members each get a bullet (their records are read from model_dir)."""
    out = []
    for name, m in records.items():
        if not m:
            out.append(f"* **{MODEL_NAMES.get(name, name)}**: not available in this run.")
            continue
        if m.get("members") and model_dir is not None:
            out.append(f"* **{MODEL_NAMES.get(name, name)}** (`ensemble` of {len(m['members'])}, "
                       f"{m.get('params', 0):,} parameters, {_fmt_s(m.get('train_wall_s'))} of training in all):")
            out += ["  " + line for line in training_notes(member_records(m, model_dir)).splitlines()]
            continue
        h = m.get("history", {})
        va = h.get("val_accuracy") or []
        best = int(max(range(len(va)), key=lambda i: va[i])) if va else None
        gap = (h["accuracy"][-1] - va[-1]) if va and h.get("accuracy") else None
        parts = [f"{m.get('params', 0):,} parameters", f"{len(h.get('loss', []))} epochs"]
        if best is not None:
            parts.append(f"best validation accuracy {va[best]:.1%} at epoch {best + 1}")
        if gap is not None:
            parts.append(f"last-epoch train − validation accuracy {gap:+.1%}")
            parts.append(f"{_fmt_s(m.get('train_wall_s'))} of training at {m.get('train_images_per_s', 'n/a')} images/s "
                     f"on {trained_on(m)}")
        out.append(f"* **{MODEL_NAMES.get(name, name)}** (`{m.get('arch')}`): " + "; ".join(parts) + ".")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------ evaluation (04)
def ensure_evaluations(ctx: RunContext, names: Sequence[str] = ("brain_tumor_cnn", "capstone_cnn"),
                       bootstrap: int = 1000, force: bool = False) -> dict[str, dict]:
    """{name: model record with a current "evaluation"} for the models present in ctx.model_dir.

    A recorded evaluation is reused when it matches the current split, data kind and weights; otherwise (or with
    force=True, as in smoke runs) helpers.evaluation.evaluate.evaluate_model runs now and writes it into the record and
    <name>.predictions.csv. Missing models are reported and left out."""
    from ..evaluation.evaluate import predictions_path
    from ..data.split import load_split

    sha = load_split("leakfree", ctx.root).attrs.get("sha256")
    out: dict[str, dict] = {}
    for name in names:
        jpath = records.files(ctx.model_dir, name).record
        meta = records.read(jpath)
        if meta is None:
            print(f"{name}: no model at {ctx.show(jpath)} — skipped")
            continue
        ok, why = evaluation_status(meta, sha, ctx.synthetic)
        if ok and not force:
            print(f"{name}: {why}")
            lt = meta["evaluation"].get("leakfree_test") or {}
            if lt and "cluster" not in lt and predictions_path(ctx.model_dir, name).is_file():
                from ..evaluation.evaluate import add_cluster_blocks

                add_cluster_blocks(jpath, ctx.root, seed=ctx.seed)  # recorded before cluster intervals existed
                print(f"{name}: cluster-bootstrap intervals added from its saved predictions")
                meta = records.read_json(jpath)
        else:
            from ..evaluation.evaluate import evaluate_model

            t0 = time.time()
            evaluate_model(records.files(jpath).weights, data_dir=ctx.root, bootstrap=bootstrap, progress=False,
                           seed=ctx.seed)
            print(f"{name}: evaluated now in {time.time() - t0:.0f} s ({why if not ok else 'smoke run: always fresh'})")
            meta = records.read_json(jpath)
        out[name] = meta
    return out


def predictions(ctx: RunContext, name: str) -> "pd.DataFrame | None":
    """<model_dir>/<name>.predictions.csv (one row per test image and split) with `confidence`, `correct` and the twin
    `group` of each file (leak-free split: galleries show one picture per group, not a mirror next to its copy)."""
    from ..evaluation.evaluate import predictions_path, read_predictions
    from ..data.split import load_split

    if not predictions_path(ctx.model_dir, name).is_file():
        return None
    df = read_predictions(ctx.model_dir, name, load_split("leakfree", ctx.root).set_index("path")["group"])
    if df is None:
        return None
    df["confidence"] = df[list(config.CLASSES)].max(axis=1)
    df["correct"] = df["label"] == df["prediction"]
    return df


def metrics_table(records: dict[str, dict], split_key: str = "leakfree_test") -> "pd.DataFrame":
    """One row per model: accuracy, macro-F1, tumour sensitivity/specificity/AUC (95% CIs), ECE, abstain point."""
    import pandas as pd

    rows = {}
    for name, m in records.items():
        b = (m.get("evaluation") or {}).get(split_key)
        if not b:
            continue
        cal, ab = b.get("calibration", {}), b.get("abstain", {})
        rows[MODEL_NAMES.get(name, name)] = {
            "n": b.get("n"),
            "accuracy": metric(b, "accuracy"),
            "macro-F1": metric(b, "macro_f1", fmt="{:.3f}"),
            # two decimals: the target is 99.5%, and 99.47% must not print as 99.5%
            "tumour sensitivity": metric(b, "tumour", "sensitivity", fmt="{:.2%}"),
            "tumour specificity": metric(b, "tumour", "specificity", fmt="{:.2%}"),
            "tumour AUC": metric(b, "tumour", "roc_auc", fmt="{:.3f}"),
            "ECE raw → calibrated": (f"{cal['ece_raw']:.3f} → {cal['ece_calibrated']:.3f}"
                                     if cal.get("ece_raw") is not None else "n/a"),
            "answered (abstain)": (f"{ab['coverage']:.0%} at {ab['accuracy']:.1%}"
                                   if ab.get("coverage") is not None and ab.get("accuracy") is not None else "n/a"),
        }
    return pd.DataFrame(rows).T


def cluster_table(records: dict[str, dict], split_key: str = "leakfree_test") -> "pd.DataFrame":
    """One row per model: the test split's images vs its twin groups, accuracy with the image-bootstrap CI and
    with the cluster-bootstrap CI (whole groups resampled), and accuracy counting each group once."""
    import pandas as pd

    rows = {}
    for name, m in records.items():
        b = (m.get("evaluation") or {}).get(split_key) or {}
        cl = b.get("cluster")
        if not cl:
            continue
        rows[MODEL_NAMES.get(name, name)] = {
            "images": b.get("n") if not b.get("contaminated")
            else f"{b.get('n')} ({b.get('n_in_training_split')} seen in training: contaminated)",
            "twin groups": cl.get("n_groups"),
            "accuracy (images resampled)": metric(b, "accuracy"),
            "accuracy (groups resampled)": metric(cl, "accuracy"),
            "macro-F1 (groups resampled)": metric(cl, "macro_f1", fmt="{:.3f}"),
            "sensitivity (groups resampled)": metric(cl, "sensitivity", fmt="{:.2%}"),
            "accuracy per twin group": metric(cl, "per_group_accuracy"),
        }
    return pd.DataFrame(rows).T


def per_class_table(meta: dict, split_key: str = "leakfree_test") -> "pd.DataFrame":
    """Precision, recall, F1 (95% CIs) and support per class for one model."""
    import pandas as pd

    pc = ((meta.get("evaluation") or {}).get(split_key) or {}).get("per_class", {})
    return pd.DataFrame({c: {"precision": metric(v, "precision"), "recall": metric(v, "recall"),
                             "F1": metric(v, "f1", fmt="{:.3f}"), "support": v.get("support")}
                         for c, v in pc.items()}).T


def missed_tumours(meta: dict, split_key: str = "leakfree_test") -> dict:
    """False negatives from the confusion matrix: tumour images predicted `notumor`, per tumour class and in all."""
    b = ((meta.get("evaluation") or {}).get(split_key) or {})
    cm = b.get("confusion")
    if not cm:
        return {}
    k = config.CLASSES.index(config.NO_TUMOUR)
    per = {c: int(cm[i][k]) for i, c in enumerate(config.CLASSES) if c != config.NO_TUMOUR}
    n_t = sum(sum(cm[i]) for i, c in enumerate(config.CLASSES) if c != config.NO_TUMOUR)
    return {"missed": sum(per.values()), "of": int(n_t), "per_class": per}


def leakage_table(records: dict[str, dict], baselines: dict | None = None) -> "pd.DataFrame":
    """Long table model, test ('leak-free' | 'official (leaky)'), accuracy, lo, hi — for plots.accuracy_comparison —
    covering the models and the baselines."""
    import pandas as pd

    rows = []

    def add(label, block_lf, block_off):
        for test, b in (("leak-free", block_lf), ("official (leaky)", block_off)):
            if b and isinstance(b.get("accuracy"), dict):
                ci = b["accuracy"].get("ci") or [None, None]
                rows.append({"model": label, "test": test, "accuracy": b["accuracy"]["value"],
                             "lo": ci[0] if ci[0] is not None else float("nan"),
                             "hi": ci[1] if ci[1] is not None else float("nan")})

    for name, m in records.items():
        ev = m.get("evaluation") or {}
        add(MODEL_NAMES.get(name, name), ev.get("leakfree_test"), ev.get("official_test"))
    for key in ("nearest_class_mean", "intensity_only", "metadata_only", "majority_class"):
        b = (baselines or {}).get(key)
        if b:
            add(BASELINE_NAMES.get(key, key), b.get("leakfree_test"), b.get("official_test"))
    return pd.DataFrame(rows, columns=["model", "test", "accuracy", "lo", "hi"])


def inflation_markdown(table: "pd.DataFrame", records: dict[str, dict]) -> str:
    """Bullets: official − leak-free accuracy per model/baseline, and for models trained on the leak-free pool,
    how many official test images they had seen in training (their official figure is contaminated)."""
    lines = []
    order = list(dict.fromkeys(table["model"]))
    w = table.pivot(index="model", columns="test", values="accuracy").reindex(order)
    for model, r in w.iterrows():
        if {"leak-free", "official (leaky)"} <= set(r.index) and r.notna().all():
            lines.append(f"* **{model}**: official {r['official (leaky)']:.1%} vs leak-free {r['leak-free']:.1%} "
                         f"({100 * (r['official (leaky)'] - r['leak-free']):+.1f} points)")
    for name, m in records.items():
        off = (m.get("evaluation") or {}).get("official_test") or {}
        if off.get("n_in_training_split"):
            acc = metric(off, "unseen_subset", "accuracy")
            lines.append(f"* {MODEL_NAMES.get(name, name)}: {off['n_in_training_split']} of the {off['n']} official "
                         f"test images were in its own training/validation data, so its official figure measures "
                         f"memory as well as leakage; on the {off['unseen_subset']['n']} official test images it never "
                         f"saw: {acc}")
    return "\n".join(lines)


def gradcam_items(predictor, preds: "pd.DataFrame", root: str | Path, n_correct: int = 4, n_wrong: int = 4,
                  split_key: str = "leakfree_test", seed: int = config.SEED) -> list[dict]:
    """Grad-CAM overlays for a gallery: one correct prediction per class (seeded) and the most confident wrong ones.
    The heat map explains the *predicted* class."""
    from ..modeling.explain import gradcam, overlay
    from ..data.prepare import preprocess

    df = preds[preds["eval_split"] == split_key]
    ok = df[df["correct"]]
    picks = [g.sample(1, random_state=seed) for _, g in ok.groupby("label")][:n_correct]
    wrong = _one_per_group(df[~df["correct"]].sort_values("confidence", ascending=False)).head(n_wrong)
    items = []
    for row in [r for p in picks for _, r in p.iterrows()] + [r for _, r in wrong.iterrows()]:
        x = preprocess(Path(root) / row["path"], predictor.img_size)
        heat = gradcam(predictor, x, config.CLASSES.index(row["prediction"]))
        items.append({"image": overlay(x, heat), "ok": bool(row["correct"]),
                      "title": f"true {row['label']}\npred {row['prediction']} {row['confidence']:.0%}"})
    return items


def _one_per_group(df: "pd.DataFrame") -> "pd.DataFrame":
    """First row of each twin group (rows without a group are all kept)."""
    if "group" not in df.columns:
        return df
    return df[(df["group"] < 0) | ~df["group"].duplicated()]


def worst_rows(preds: "pd.DataFrame", n: int = 10, split_key: str = "leakfree_test") -> "pd.DataFrame":
    """The `n` most confident wrong predictions of a split, one per twin group (rows of report.predictions)."""
    df = preds[(preds["eval_split"] == split_key) & ~preds["correct"]]
    return _one_per_group(df.sort_values("confidence", ascending=False)).head(n)


def worst_errors(preds: "pd.DataFrame", n: int = 10, split_key: str = "leakfree_test") -> "pd.DataFrame":
    """The most confident wrong predictions (one per twin group): file, true class, predicted class, confidence,
    P(tumour)."""
    df = worst_rows(preds, n, split_key)
    out = df[["path", "label", "prediction", "confidence", "p_tumour"]].copy()
    out["path"] = out["path"].map(lambda p: Path(p).name)
    return out.rename(columns={"path": "file", "label": "true"}).round(3).reset_index(drop=True)


def size512_table(records: dict[str, dict], baselines: dict | None = None) -> "pd.DataFrame":
    """Accuracy on the leak-free test images that are exactly 512x512 vs on all of them, per model (and for the
    metadata-only baseline, which loses its size cue there)."""
    import pandas as pd

    rows = {}
    for name, m in records.items():
        ev = m.get("evaluation") or {}
        s = (ev.get("robustness") or {}).get("size512_subset")
        if s:
            rows[MODEL_NAMES.get(name, name)] = {"n (512×512)": s["n"], "accuracy on 512×512 only": metric(s, "accuracy"),
                                                 "accuracy on all": metric(ev, "leakfree_test", "accuracy")}
    for key in ("metadata_only", "intensity_only"):
        s = ((baselines or {}).get(key) or {}).get("size512_subset")
        if s:
            rows[BASELINE_NAMES[key]] = {"n (512×512)": s["n"], "accuracy on 512×512 only": metric(s, "accuracy"),
                                         "accuracy on all": metric(baselines, key, "leakfree_test", "accuracy")}
    return pd.DataFrame(rows).T


# ------------------------------------------------------------------------------------------------ acquisition shortcut
def capstone_gaps(ctx: RunContext) -> dict[str, dict]:
    """helpers.evaluation.comparison.capstone_gaps for this run's models: our accuracy minus each capstone's on the same
    leak-free test images, paired cluster-bootstrap CI (twin groups of the leak-free split)."""
    from ..evaluation import comparison
    from ..evaluation.evaluate import predictions_path
    from ..data.split import load_split

    if not predictions_path(ctx.model_dir, comparison.OURS).is_file():
        return {}  # nothing to pair: do not build the split for it
    groups = load_split("leakfree", ctx.root).set_index("path")["group"]
    return comparison.capstone_gaps(ctx.model_dir, groups, seed=ctx.seed)


def profile_misses(ctx: RunContext, name: str = "brain_tumor_cnn") -> "tuple[dict, pd.DataFrame | None]":
    """(helpers.modeling.intensity_profile.misses_by_profile result, ranked tumour table) for one model, from its predictions
    and the intensity-profile baseline's (written beside baselines.json); ({}, None) when either is missing."""
    import pandas as pd

    from ..modeling import intensity_profile
    from ..evaluation.baselines import PROFILE_PREDICTIONS

    cnn, path = predictions(ctx, name), ctx.model_dir / PROFILE_PREDICTIONS
    if cnn is None or not path.is_file():
        return {}, None
    prof = pd.read_csv(path, keep_default_na=False)
    return intensity_profile.misses_by_profile(cnn, prof), intensity_profile.ranked_tumours(cnn, prof)


def profile_table(ctx: RunContext, records: dict[str, dict]) -> "pd.DataFrame":
    """Per model: missed tumours, how many of them fall in the lowest stratum by profile P(tumour), sensitivity
    there and elsewhere, and the AUC of a low profile P(tumour) for the model's misses. Models that saw some of the
    leak-free test images in training (the capstone CNN trained the published way) are left out: their hits there
    are partly memory."""
    import pandas as pd

    rows = {}
    for n, rec in records.items():
        if ((rec.get("evaluation") or {}).get("leakfree_test") or {}).get("n_in_training_split"):
            continue
        r, _ = profile_misses(ctx, n)
        if not r:
            continue
        auc = r.get("auc_low_profile_for_misses")
        rows[MODEL_NAMES.get(n, n)] = {
            "missed tumours": f"{r['n_missed']} of {r['n_tumours']}",
            "of them in the lowest stratum": f"{r['missed_in_lowest']} of {r['n_missed']}",
            f"sensitivity, lowest stratum (n={r['lowest_n']})": _pct(r["sensitivity_lowest"]),
            "sensitivity, the rest": _pct(r.get("sensitivity_rest")),
            "AUC, low profile → missed": "n/a" if auc is None else f"{auc:.2f}"}
    return pd.DataFrame(rows).T


def lowest_profile_tumours(ctx: RunContext, ranked: "pd.DataFrame | None", n: int = 12) -> tuple[list, list[str]]:
    """(raw grey images, titles) of the `n` test tumours with the most no-tumour-like profile, one per twin group."""
    from .eda import load_gray

    if ranked is None or ranked.empty:
        return [], []
    low = _one_per_group(ranked).head(n)
    titles = [f"{lbl}{' MISSED' if m else ''}\nprofile {pp:.2f} · model {pt:.2f}"
              for lbl, m, pp, pt in zip(low["label"], low["missed"], low["profile_p"], low["p_tumour"])]
    return [load_gray(ctx.root, p) for p in low["path"]], titles


def profile_markdown(res: dict, baselines: dict | None) -> str:
    """What the intensity-profile baseline and the misses' ranks say, every number from the records."""
    b = (baselines or {}).get("intensity_only") or {}
    if not b.get("leakfree_test"):
        return "_No intensity-profile baseline recorded._"
    out = [f"A classifier that sees only grey-level histograms (no layout, no anatomy) reaches "
           f"**{metric(b, 'leakfree_test', 'accuracy')}** on the leak-free test split"
           + (f" and {metric(b, 'size512_subset', 'accuracy')} on its 512×512-only subset" if b.get("size512_subset") else "")
           + f" (metadata only: {metric(baselines, 'metadata_only', 'leakfree_test', 'accuracy')}; majority class: "
           f"{metric(baselines, 'majority_class', 'leakfree_test', 'accuracy', ci=False)}): a sign that the classes "
           "differ in how they were acquired, not only in what the slices show."]
    if res and res.get("n_missed"):
        from ..modeling import intensity_profile

        pct = ", ".join(f"{v:g}" for v in res["missed_rank_percentiles"])
        auc = res.get("auc_low_profile_for_misses")
        grp = (f" ({res['n_missed_groups']} distinct pictures)" if res.get("n_missed_groups") not in (None, res["n_missed"])
               else "")
        fisher = res.get("fisher_p_lowest_vs_rest")
        out.append(
            f"Ranking the {res['n_tumours']} test tumours by that classifier's P(tumour), the model's "
            f"{res['n_missed']} missed tumours{grp} sit at percentiles {pct} (0 = the most no-tumour-like profile): "
            f"{res['missed_in_lowest']} of {res['n_missed']} in the lowest "
            f"{intensity_profile.stratum_name(res['n_strata'])}, where sensitivity is "
            f"{_pct(res['sensitivity_lowest'])} against {_pct(res.get('sensitivity_rest'))} in the rest"
            + (f"; AUC {auc:.2f} for telling misses from hits by a low profile P(tumour)" if auc is not None else "")
            + (f"; one-sided Fisher p = {fisher:.1g}, counting images as independent" if fisher is not None else "")
            + ". The missed tumours are slices whose grey levels resemble the no-tumour collection's.")
    elif res:
        out.append(f"The model misses none of the {res['n_tumours']} test tumours, so there is no miss to rank.")
    return " ".join(out)


# ------------------------------------------------------------------------------------------------ conclusions (05)
def eda_facts(ctx: RunContext) -> dict:
    """The EDA numbers notebook 02 saved (<output>/eda.json); recomputed from the (cached) audit if it is missing."""
    rec = records.read_json(ctx.out_dir / "eda.json")
    if rec is not None and bool(rec.get("synthetic")) == ctx.synthetic:
        return rec
    from ..data import audit
    from . import eda
    from ..data.layouts import build_manifest
    from ..data.split import load_split

    m = build_manifest(ctx.root, progress=False)
    a = audit.audit(m, ctx.root, progress=False)
    lf = load_split("leakfree", ctx.root)
    return {"synthetic": ctx.synthetic, "smoke": ctx.smoke, "n_files": int(len(m)),
            "frac_512x512": eda.fingerprint_table(m)["frac_512x512"].to_dict(),
            "n_distinct_sizes": int((m["width"].astype(str) + "x" + m["height"].astype(str)).nunique()),
            "audit": {k: a[k] for k in ("n_images", "n_groups", "exact", "n_label_conflicts")},
            "test_with_train_twin": a["near"]["test_with_train_twin"], "n_official_test": a["near"]["n_test"],
            "leakfree_cross_split_twins": eda.cross_split_twins(lf)}


def _model_summary(m: dict) -> dict:
    ev = m.get("evaluation") or {}
    lf, off, rob = ev.get("leakfree_test") or {}, ev.get("official_test") or {}, ev.get("robustness") or {}
    cal, ab = lf.get("calibration") or {}, lf.get("abstain") or {}

    def blk(*keys):
        cur = ev
        for k in keys:
            cur = cur.get(k) if isinstance(cur, dict) else None
        return cur if isinstance(cur, dict) and "value" in cur else None

    return {
        "arch": m.get("arch"), "params": m.get("params"), "img_size": m.get("img_size"),
        "temperature": m.get("temperature"), "train_wall_s": m.get("train_wall_s"),
        "train_images_per_s": m.get("train_images_per_s"), "evaluated_at": ev.get("evaluated_at"),
        "n_leakfree_test": lf.get("n"),
        "leakfree_accuracy": blk("leakfree_test", "accuracy"),
        "leakfree_macro_f1": blk("leakfree_test", "macro_f1"),
        "tumour_sensitivity": blk("leakfree_test", "tumour", "sensitivity"),
        "tumour_specificity": blk("leakfree_test", "tumour", "specificity"),
        "tumour_roc_auc": blk("leakfree_test", "tumour", "roc_auc"),
        "tumour_threshold": (lf.get("tumour") or {}).get("threshold"),
        "missed_tumours": missed_tumours(m),
        "screening": ({**{k: lf["screening"].get(k) for k in ("threshold", "sensitivity", "specificity", "n_missed",
                                                                "n_tumour")},
                       "target": (ev.get("screening_rule") or {}).get("target_val_sensitivity")}
                      if lf.get("screening") else None),
        "ece_raw": cal.get("ece_raw"), "ece_calibrated": cal.get("ece_calibrated"),
        "abstain": {k: ab.get(k) for k in ("threshold", "coverage", "accuracy", "n_referred")} if ab else None,
        "leakfree_seen_in_training": lf.get("n_in_training_split"),
        "leakfree_unseen_accuracy": (lf.get("unseen_subset") or {}).get("accuracy"),
        "official_accuracy": blk("official_test", "accuracy"),
        "official_seen_in_training": off.get("n_in_training_split"),
        "official_unseen_accuracy": (off.get("unseen_subset") or {}).get("accuracy"),
        "resolution": [{"px": r["px"], "accuracy": value(r, "accuracy")} for r in rob.get("resolution", [])],
        "size512_accuracy": (rob.get("size512_subset") or {}).get("accuracy"),
        "size512_n": (rob.get("size512_subset") or {}).get("n"),
    }


def headline(ctx: RunContext, records: dict[str, dict], baselines: dict | None, eda_rec: dict) -> dict:
    """The report's headline numbers in one JSON-ready dict (written to <output>/summary.json for the README)."""
    from datetime import datetime, timezone

    bl = {}
    for key in ("majority_class", "nearest_class_mean", "metadata_only", "intensity_only"):
        b = (baselines or {}).get(key)
        if b:
            bl[key] = {"leakfree_accuracy": value(b, "leakfree_test", "accuracy"),
                       "official_accuracy": value(b, "official_test", "accuracy"),
                       "size512_accuracy": value(b, "size512_subset", "accuracy")}
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "synthetic": ctx.synthetic, "smoke": ctx.smoke,
        "note": ("SYNTHETIC DEMO DATA: says nothing about real MRI" if ctx.synthetic else
                 "smoke run: subsample and tiny models, not results" if ctx.smoke else
                 "full run on the Kaggle Brain Tumor MRI dataset"),
        "data": {k: eda_rec.get(k) for k in ("n_files", "n_distinct_sizes", "frac_512x512", "test_with_train_twin",
                                             "n_official_test", "leakfree_cross_split_twins")}
                | {"n_groups": (eda_rec.get("audit") or {}).get("n_groups"),
                   "n_label_conflicts": (eda_rec.get("audit") or {}).get("n_label_conflicts"),
                   "exact_duplicates": ((eda_rec.get("audit") or {}).get("exact") or {}).get("n_duplicate_files")},
        "models": {name: _model_summary(m) for name, m in records.items()},
        "baselines": bl,
        "profile_misses": {name: {k: v for k, v in res.items() if k not in ("strata", "missed_files")}
                           for name in records if (res := profile_misses(ctx, name)[0])},
        "capstone_gaps": capstone_gaps(ctx),
        "scan_types": scan_type_summary(ctx),
    }


def scan_type_summary(ctx: RunContext, name: str = "brain_tumor_cnn") -> dict:
    """Per-plane test counts of one model (from the test tags saved with the shipped tagger, when they were made on
    this run's split) and the hand-labelled MRI weighting per class; {} when either does not apply."""
    from ..evaluation import scan_type
    from ..data.split import load_split

    shipped, preds = scan_type.load_shipped(), predictions(ctx, name)
    if shipped is None or preds is None:
        return {}  # checked first: without predictions the split is not built at all
    split_df = load_split("leakfree", ctx.root)
    if shipped["doc"].get("split_sha256") != split_df.attrs.get("sha256"):
        return {}
    try:
        t = scan_type.metrics_by_scan_type(preds, scan_type.shipped_test_tags(), n_boot=200)
    except ValueError:
        return {}
    seq = scan_type.sequence_table(scan_type.read_labels(), split_df)
    return {"model": name, "by_plane": t.to_dict(orient="index"), "sequence": seq.to_dict(orient="index")}


def _pct(v, digits: int = 1) -> str:
    return "n/a" if v is None else f"{100 * v:.{digits}f}%"


def _screening_text(ours: dict) -> str:
    """The validation-chosen tumour threshold and what it gives on test, or "" when the record has none."""
    sc = ours.get("screening")
    if not sc or sc.get("target") is None:
        return ""
    out = f" The P(tumour) threshold chosen on validation to keep >= {sc['target']:.1%} sensitivity there is {sc['threshold']:.3g}"
    if sc["threshold"] == ours.get("tumour_threshold"):
        return out + " (validation needs no lower one)."
    return (out + f": sensitivity {_ci_text(sc['sensitivity'], 2)}, specificity {_ci_text(sc['specificity'], 2)}, "
            f"{sc['n_missed']} of {sc['n_tumour']} missed.")


def _ci_text(b: dict | None, digits: int = 1) -> str:
    return metric(b, fmt=f"{{:.{digits}%}}") if b else "n/a"


def _official_vs_leakfree(ms: dict, bl: dict) -> str:
    """Finding on the official test folder, phrased from the numbers (gaps can go either way)."""
    parts = ["**Official vs leak-free test.**"]
    base = []
    for key, label in (("metadata_only", "metadata only"), ("nearest_class_mean", "nearest class mean")):
        b = bl.get(key) or {}
        if b.get("official_accuracy") is not None and b.get("leakfree_accuracy") is not None:
            base.append(f"{label} {_pct(b['official_accuracy'])} vs {_pct(b['leakfree_accuracy'])}")
    if base:
        parts.append("Baselines that cannot memorise pictures, each fitted within its split, score "
                     + "; ".join(base) + " (official vs leak-free).")
    for name in ("brain_tumor_cnn", "capstone_cnn"):
        m = ms.get(name) or {}
        if m.get("official_accuracy") and m.get("official_seen_in_training"):
            label = MODEL_NAMES.get(name, name)
            parts.append(
                f"{label[0].upper()}{label[1:]}: {_pct(m['official_accuracy']['value'])} on the official folder, but "
                f"{m['official_seen_in_training']:,} of its images were in the model's own training data; on the "
                f"others it scores {_ci_text(m.get('official_unseen_accuracy'))}.")
    off = ms.get("capstone_cnn_official") or {}
    if off.get("official_accuracy"):
        clean = off.get("leakfree_unseen_accuracy") or off.get("leakfree_accuracy")
        parts.append(
            f"Trained the published way (Kaggle's Training → Testing), the capstone CNN scores "
            f"{_ci_text(off['official_accuracy'])} on the official folder but {_ci_text(clean)} on leak-free test "
            "images that have no twin in its training folder.")
    return " ".join(parts)


def findings_markdown(h: dict) -> str:
    """The findings as Markdown, every number taken from `h` (headline())."""
    d, ms, bl = h["data"], h["models"], h["baselines"]
    ours = ms.get("brain_tumor_cnn") or {}
    cap = ms.get("capstone_cnn") or {}
    out = []
    if d.get("n_official_test"):
        out.append(
            f"1. **The official test folder leaks.** {d['test_with_train_twin']:,} of its {d['n_official_test']:,} images "
            f"({d['test_with_train_twin'] / d['n_official_test']:.0%}) are copies, mirrors, rotations or re-contrasted "
            f"versions of training images; the {d['n_files']:,} files hold only {d.get('n_groups') or 0:,} distinct "
            f"pictures, and {d.get('n_label_conflicts') or 0} pictures are filed under two classes. The leak-free "
            f"split keeps every twin group on one side ({d.get('leakfree_cross_split_twins')} test images with a "
            "train/val twin).")
    f512 = d.get("frac_512x512") or {}
    meta = bl.get("metadata_only") or {}
    if f512:
        hi, lo = max(f512, key=f512.get), min(f512, key=f512.get)
        if f512[hi] - f512[lo] > 0.05:
            size_txt = (f"**How a file was stored predicts its class.** {_pct(f512[hi], 0)} of `{hi}` files are "
                        f"512×512 against {_pct(f512[lo], 0)} of `{lo}`")
        else:
            size_txt = (f"**File size and class.** The share of 512×512 files is about the same in every class "
                        f"({_pct(f512[lo], 0)}–{_pct(f512[hi], 0)})")
        out.append(
            f"2. {size_txt}; a classifier that sees only width, height, colour mode and file size "
            f"reaches {_pct(meta.get('leakfree_accuracy'))} on the leak-free test split (majority class: "
            f"{_pct((bl.get('majority_class') or {}).get('leakfree_accuracy'))}). Preparing every image the same way "
            "(crop to the head, pad square, resize) removes size and border from the model's input.")
    if ours.get("leakfree_accuracy"):
        cmp_ = ""
        if cap.get("leakfree_accuracy"):
            cmp_ = (f"; the capstone CNN, retrained on the same split, reaches {_ci_text(cap['leakfree_accuracy'])} "
                    f"with {cap.get('params') or 0:,} parameters against our {ours.get('params') or 0:,}")
            c256 = ms.get("capstone_cnn_256") or {}
            if c256.get("leakfree_accuracy"):
                cmp_ += (f" on our 128-px input, and {_ci_text(c256['leakfree_accuracy'])} at its own 256 px "
                         f"({c256.get('params') or 0:,} parameters)")
        from ..evaluation import comparison

        gaps = h.get("capstone_gaps") or {}
        if gaps:
            cmp_ += ". " + comparison.gap_markdown(gaps).rstrip(".")
        ncm = (bl.get("nearest_class_mean") or {}).get("leakfree_accuracy")
        out.append(
            f"3. **Leak-free accuracy.** Our model: {_ci_text(ours['leakfree_accuracy'])} on {ours.get('n_leakfree_test')} "
            f"test images that have no twin in its training data (macro-F1 "
            f"{metric(ours.get('leakfree_macro_f1'), fmt='{:.3f}')}){cmp_}. Nearest class mean: {_pct(ncm)}.")
        mt = ours.get("missed_tumours") or {}
        out.append(
            f"4. **Tumour sensitivity** (tumour slices not called `notumor`): {_ci_text(ours.get('tumour_sensitivity'), 2)}, "
            f"specificity {_ci_text(ours.get('tumour_specificity'), 2)}, AUC {metric(ours.get('tumour_roc_auc'), fmt='{:.3f}')}; "
            f"{mt.get('missed', 'n/a')} of {mt.get('of', 'n/a')} tumour images missed." + _screening_text(ours))
        ab = ours.get("abstain") or {}
        if ours.get("ece_raw") is not None:
            abst = ""
            if ab.get("coverage") is not None:
                abst = (f" Answering only when the top probability reaches {ab['threshold']:.3g} (chosen on validation), it "
                        f"answers {_pct(ab['coverage'], 0)} of test images with {_pct(ab.get('accuracy'))} accuracy and "
                        f"refers {ab.get('n_referred')}.")
            out.append(f"5. **Calibration.** Temperature scaling (T = {ours.get('temperature') or float('nan'):.2f}) takes "
                       f"the expected calibration error from {ours['ece_raw']:.3f} to {ours['ece_calibrated']:.3f}.{abst}")
        out.append("6. " + _official_vs_leakfree(ms, bl))
        res = ours.get("resolution") or []
        if res:
            lo_r, hi_r = min(res, key=lambda r: r["px"]), max(res, key=lambda r: r["px"])
            s512 = ""
            if ours.get("size512_accuracy"):
                s512 = (f" On the {ours.get('size512_n')} leak-free test images that are exactly 512×512 — where size "
                        f"gives nothing away — accuracy is {_ci_text(ours['size512_accuracy'])}.")
            out.append(f"7. **Resolution.** Accuracy {_pct(hi_r['accuracy'])} when images are downsampled to {hi_r['px']} px, "
                       f"{_pct(lo_r['accuracy'])} at {lo_r['px']} px.{s512}")
    prof = bl.get("intensity_only") or {}
    if prof.get("leakfree_accuracy") is not None:
        pm = (h.get("profile_misses") or {}).get("brain_tumor_cnn") or {}
        miss = ""
        if pm.get("n_missed"):
            share = "all" if pm["missed_in_lowest"] == pm["n_missed"] else f"{pm['missed_in_lowest']} of the"
            from ..modeling.intensity_profile import stratum_name

            miss = (f" {share[0].upper()}{share[1:]} {pm['n_missed']} tumours our model misses are among the lowest "
                    f"{stratum_name(pm['n_strata'])} of test tumours by that classifier's P(tumour) (sensitivity there "
                    f"{_pct(pm['sensitivity_lowest'])}, elsewhere {_pct(pm.get('sensitivity_rest'))}): slices whose grey "
                    "levels resemble the no-tumour collection's.")
        out.append(f"8. **The acquisition shortcut.** Grey-level histograms alone (no layout, no anatomy) classify "
                   f"{_pct(prof['leakfree_accuracy'])} of leak-free test images correctly "
                   f"({_pct(prof.get('size512_accuracy'))} of the 512×512-only ones), more than file metadata "
                   f"({_pct(meta.get('leakfree_accuracy'))}): a sign that the classes come from collections scanned differently.{miss}")
    st = h.get("scan_types") or {}
    if st.get("by_plane"):
        import pandas as pd

        from ..evaluation import scan_type

        t = pd.DataFrame.from_dict(st["by_plane"], orient="index")
        ct = t.loc["CT slices"]
        seq = scan_type.sequence_markdown(pd.DataFrame.from_dict(st["sequence"], orient="index")).replace("**", "")
        out.append(f"9. **Plane, modality and weighting are class cues too** (notebook 02 §9, 04 §11). "
                   + scan_type.by_plane_markdown(t, "Our model").replace("Our model: of", "Of") + " "
                   + scan_type.plane_rule_markdown(t) + f" {int(ct['images'])} test slices are CT, not MRI "
                   f"({int(ct['no_tumour'])} of them no tumour). {seq}")
    return "\n".join(out) if out else "_No results available in this run._"


def abstain_markdown(ev: dict) -> str:
    """One paragraph on the abstain band of an evaluation: the rule's outcome on validation and the test result."""
    a, rule = (ev.get("leakfree_test") or {}).get("abstain") or {}, ev.get("abstain_rule") or {}
    if not a:
        return "_No abstain band recorded._"
    target = rule.get("target_val_accuracy")
    if rule.get("found"):
        how = f"the smallest threshold whose answered validation images reach {_pct(target)} accuracy"
    elif target is not None:
        how = f"no threshold reached {_pct(target)} on validation, so the rule's fallback is used"
    else:
        how = "set on validation"
    test = (f"it answers **{_pct(a.get('coverage'), 0)}** of leak-free test images with "
            f"**{_pct(a.get('accuracy'))}** accuracy and refers {a.get('n_referred')} to a radiologist"
            if a.get("accuracy") is not None else
            f"it answers none of the leak-free test images (all {a.get('n_referred')} referred)")
    val = (f" On validation it answered {_pct(rule['val_coverage'], 0)} at {_pct(rule.get('val_accuracy'))}."
           if rule.get("val_coverage") is not None and rule.get("val_accuracy") is not None else "")
    return f"Threshold **{a['threshold']:.3f}** ({how}): {test}.{val}"


def recipes_markdown(ctx: RunContext) -> str:
    """Every evaluated model record in the run's model folder as a Markdown table (helpers.reporting.model_card.recipe_rows):
    what was tried, its validation accuracy (the selection criterion) and its leak-free test accuracy (for the record)."""
    from . import model_card

    rows = model_card.recipe_rows(ctx.model_dir)
    if not rows:
        return "_No evaluated model records yet._"
    spread = model_card.seed_spread_markdown(ctx.model_dir)
    return model_card.recipes_markdown(rows) + (f"\n\n{spread}" if spread else "")


def scan_types(ctx: RunContext, size: int = config.IMG_SIZE) -> "tuple[pd.DataFrame | None, dict | str]":
    """(tags, info) from helpers.evaluation.scan_type for every image of the leak-free split, or (None, why not). The hand labels
    name files of the Kaggle set, so synthetic phantoms and small smoke subsets get the reason instead."""
    from ..evaluation import scan_type
    from ..data.split import load_split

    labels = scan_type.read_labels()
    if ctx.synthetic or scan_type.attach_rows(labels, load_split("leakfree", ctx.root)["path"]).empty:
        return None, "no hand-labelled file in this dataset (the scan-type labels name files of the Kaggle set)"
    X, ordered = scan_type.dataset_arrays(ctx.root, size)
    try:
        tags, info = scan_type.tag_dataset(X, ordered["path"], ordered["group"].to_numpy(), labels)
    except ValueError as e:  # e.g. a smoke subset holding too few labelled files to fit both classifiers
        return None, str(e)
    info["split"] = ordered
    return tags, info


def ct_examples(ctx: RunContext, tags: "pd.DataFrame", n: int = 6) -> tuple[list, list[str]]:
    """(raw grey images, titles) of up to `n` CT slices, one per twin group, hand-labelled ones first, classes in turn."""
    from .eda import load_gray
    from ..data.split import load_split

    groups = load_split("leakfree", ctx.root).set_index("path")
    ct = tags[tags["is_ct"].astype(bool)].assign(label=lambda d: d["path"].map(groups["label"]),
                                                 group=lambda d: d["path"].map(groups["group"]))
    ct = ct.sort_values("ct_source", key=lambda s: s != "hand", kind="stable").drop_duplicates("group")
    ct = ct.assign(turn=ct.groupby("label").cumcount()).sort_values(["turn", "label"], kind="stable").head(n)
    titles = [f"{lbl} · CT ({src})" for lbl, src in zip(ct["label"], ct["ct_source"])]
    return [load_gray(ctx.root, p) for p in ct["path"]], titles
