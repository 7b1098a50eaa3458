"""The papermill runner behind `brain-mri report` / `make report`: executes the numbered notebooks into reports/,
with parameters injected after each notebook's single `parameters` cell, and writes HTML copies.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence
from .. import config
from .context import show_path


KERNEL = "python3"

# Each notebook's wall-clock limit per cell (a real evaluation of ~2,400 images takes a few minutes).
CELL_TIMEOUT_S = 1800

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


def scrub_paths(text: str, output: Path | None = None) -> str:
    """Absolute paths of this machine in an output, as a reader should see them: the project root dropped, the
    dataset as $BRAIN_MRI_DATA, the home folder as ~; with `output`, that folder (absolute, or as the kernel saw it
    from notebooks/) as <output>, as the run context prints it."""
    subs = [(str(config.PROJ_ROOT.resolve()) + "/", ""), (str(config.PROJ_ROOT.resolve()), ".")]
    if output is not None:
        rel = _relative_to(Path(output), config.NOTEBOOKS_DIR)
        subs[:0] = [(str(Path(output).resolve()), "<output>"), *([(rel, "<output>")] if "/" in rel or rel.startswith("..") else [])]
    data = os.environ.get("BRAIN_MRI_DATA")
    if data:
        subs.insert(0, (str(Path(data).expanduser().resolve()), "$BRAIN_MRI_DATA"))
    home = str(Path.home())
    if home not in ("/", ""):
        subs.append((home + "/", "~/"))
    for old, new in subs:
        text = text.replace(old, new)
    return text


def clean_outputs(nb, output: Path | None = None) -> dict:
    """Make an executed notebook fit to read: drop stderr streams (library start-up chatter such as TensorFlow's
    oneDNN and absl lines; returned, so the runner can keep them beside the report) and scrub absolute paths from
    the text outputs and the injected-parameters cell. Returns {"stderr": [text, ...]}."""
    dropped = []
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = scrub_paths(cell.source, output)
        if cell.get("cell_type") != "code":
            continue
        keep = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                dropped.append(out.get("text", ""))
                continue
            if out.get("output_type") == "stream":
                out["text"] = scrub_paths(out.get("text", ""), output)
            for mime, val in (out.get("data") or {}).items():
                if mime.startswith("text/") and isinstance(val, str):
                    out["data"][mime] = scrub_paths(val, output)
            keep.append(out)
        cell.outputs = keep
    return {"stderr": dropped}


def _sanitise(nb_path: Path, strip_injected: bool) -> None:
    """Remove machine-specific traces papermill leaves: absolute paths in its metadata, in the injected-parameters
    cell and in outputs; stderr streams (kept in <notebook>.stderr.txt beside it when there were any); for copies
    committed to notebooks/, the injected-parameters cell too (its values equal the defaults in a full run)."""
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
    dropped = clean_outputs(nb, nb_path.parent)["stderr"]
    log_path = nb_path.with_suffix(".stderr.txt")
    if dropped and nb_path.parent.resolve() != config.NOTEBOOKS_DIR.resolve():
        log_path.write_text(scrub_paths("".join(dropped)))
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
                            progress_bar=False, log_output=False, execution_timeout=timeout,
                            # the kernel's own warnings ("Kernel is running over TCP without encryption") stay quiet
                            extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
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


def quiet_kernels() -> None:
    """The kernels inherit these: no TensorFlow/absl start-up chatter (TF_CPP_MIN_LOG_LEVEL=3, oneDNN notice off),
    and the runner's own loggers (papermill, jupyter_client's "Kernel is running over TCP without encryption")
    say only errors."""
    import logging
    import warnings

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    for name in ("papermill", "traitlets", "jupyter_client", "nbclient", "asyncio"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="jupyter_client")
    warnings.filterwarnings("ignore", module="zmq")


def _relative_to(out: Path, cwd: Path) -> str:
    """The output folder as a kernel running in `cwd` (the notebook's folder) should see it: relative, so that the
    injected parameters cell of an executed notebook shows no absolute path of this machine."""
    try:
        return os.path.relpath(out.resolve(), cwd.resolve())
    except ValueError:  # another drive (Windows)
        return str(out.resolve())


SMOKE_DIR = config.REPORTS_DIR / "smoke"  # `brain-mri report --smoke` writes here unless told otherwise


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
    quiet_kernels()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = {"SMOKE": bool(smoke), "RETRAIN": bool(retrain),
              "DATA_DIR": str(Path(data_dir).expanduser().resolve()) if data_dir else None,
              "OUTPUT_DIR": None, **(parameters or {})}
    records = []
    t_all = time.time()
    for i, nb in enumerate(paths, 1):
        target = out / nb.name
        cpu0 = _children_cpu()
        try:
            secs = execute(nb, target, {**params, "OUTPUT_DIR": params["OUTPUT_DIR"] or _relative_to(out, nb.parent)})
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
    # a smoke run's pages hold smoke numbers: they go beside the real run's, never over them
    out_dir = getattr(args, "out_dir", None) or (SMOKE_DIR if smoke else config.REPORTS_DIR)
    if smoke and Path(out_dir).resolve() == config.REPORTS_DIR.resolve():
        print(f"warning: a smoke run is replacing the pages in {show_path(out_dir)}/ with smoke numbers",
              file=sys.stderr)
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
