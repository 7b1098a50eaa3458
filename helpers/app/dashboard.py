"""Voila dashboard (notebooks/dashboard.ipynb): the widgets and their callbacks; the notebook only lays them out.

``build_dashboard() -> Dashboard`` (``.root`` is the page). The upload -> probabilities path is app.upload, the result
cards app.cards, the Models tab app.models_tab, model discovery and loading app.registry, serving app.serve.
"""
from __future__ import annotations

import io
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from .. import config
from .registry import (abstain_threshold, DEFAULT_ABSTAIN, default_model_path, discover_models, experiments_line,
                       missing_models_line,
                       get_predictor, load_message, ModelEntry, screening_threshold)
from .models_tab import dig, model_card, model_summary_html
from ..reporting.page_style import CSS, esc
from .cards import png, render_card
from ..formatting import megabytes, threshold
from .serve import WS_MAX_MESSAGE_BYTES
from .upload import Result, one_line, process_upload


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads (lazily): keeps the kernel log short

log = logging.getLogger(__name__)

DISCLAIMER = "Research and teaching only — not for diagnosis."

ACCEPT = ".jpg,.jpeg,.png,.dcm,.dicom,image/*"


# ----------------------------------------------------------------------------------------- examples
@dataclass
class Example:
    title: str
    label: str  # true label, or "synthetic"
    load: Any  # () -> bytes
    name: str


def held_out_test(df, union_csv: Path | None = None):
    """The leak-free split's test rows that the union split (the shipped model's) also holds out as test: no model here
    trained on them (about 150 leak-free test pictures are in the union split's training groups)."""
    import pandas as pd

    test = df[df["split"] == "test"]
    union_csv = union_csv or config.SPLITS_DIR / "union.csv"
    if union_csv.is_file():
        u = pd.read_csv(union_csv, usecols=["collection", "path", "split"])
        u = u[(u["collection"] == config.DATASET_NAME) & (u["split"] == "test")]
        test = test[test["path"].isin(set(u["path"]))]
    return test


def list_examples(n_per_class: int = 2, data_dir=None, seed: int = config.SEED) -> list[Example]:
    """A few test images per class with their true labels when the dataset is present: test in the leak-free split and
    in the union split alike, so no model here saw them in training (Kaggle names some "Tr-…": the folder it filed
    them in, not our split); else synthetic phantoms labelled "synthetic"."""
    try:
        from ..data.layouts import resolve_data_dir
        from ..data.split import read_split_csv
        from ..data.synthetic import is_synthetic

        root = resolve_data_dir(data_dir)
        if not is_synthetic(root) and config.LEAKFREE_SPLIT.is_file():
            test = held_out_test(read_split_csv(config.LEAKFREE_SPLIT))
            out = []
            for label in config.CLASSES:
                rows = test[test["label"] == label]
                rows = rows.sample(min(len(rows), 4 * n_per_class), random_state=seed)
                k = 0
                for rel in rows["path"]:
                    p = root / rel
                    if k >= n_per_class or not p.is_file():
                        continue
                    k += 1
                    out.append(Example(title=f"{label} #{k} — test image, never trained on ({Path(rel).name})",
                                       label=label, load=p.read_bytes, name=Path(rel).name))
            if out:
                return out
    except Exception:  # noqa: BLE001 - no data / no split: fall back to phantoms
        log.info("no dataset examples; using synthetic phantoms", exc_info=True)
    out = []
    for label in config.CLASSES:
        for k in range(n_per_class):
            def load(label=label, k=k):
                from ..data.synthetic import make_phantom

                return png(make_phantom(label, seed=seed + 101 * k, size=256)[0])
            out.append(Example(title=f"synthetic phantom #{k + 1} ({label}-like drawing)", label="synthetic",
                               load=load, name=f"phantom-{label}-{k + 1}.png"))
    return out


# ----------------------------------------------------------------------------------------- the dashboard
class Dashboard:
    """The page: banner, title, status, and tabs Predict / Models. ``root`` is what the notebook displays."""

    MAX_CARDS = 24

    def __init__(self, model: str | Path | None = None, examples: list[Example] | None = None,
                 models: list[ModelEntry] | None = None):
        import ipywidgets as w

        self.predictor = None
        self.model_path: Path | None = None
        self.threshold, self.threshold_src = DEFAULT_ABSTAIN, "default"
        self.results: list[Result] = []
        self._last_inputs: list[tuple[str, Any, str | None]] = []
        start = Path(model).expanduser() if model else default_model_path()
        self.models = models if models is not None else discover_models([start.parent, config.MODELS_DIR])
        self.examples = examples if examples is not None else list_examples()

        self.banner = w.HTML(f'<div class="bm-banner" data-disclaimer="1">⚠ {esc(DISCLAIMER)} Outputs are a research '
                             'model\'s guesses on single 2-D slices; they must not inform any clinical decision.</div>')
        self.banner.add_class("bm-sticky")  # stays in view while scrolling (CSS above)
        self.title = w.HTML('<div class="bm-title"><h1>Brain-tumour MRI slice classifier</h1>'
                            '<div class="bm-sub">glioma · meningioma · pituitary tumour · no tumour — calibrated '
                            'probabilities, an abstain band, Grad-CAM and an "unfamiliar scan" warning, from a model '
                            'trained on public MRI collections (grouped so no test picture has a twin in training); '
                            'on a collection it never saw it does far worse (report chapter 05).</div></div>')
        self.status = w.HTML()
        self.uploader = w.FileUpload(accept=ACCEPT, multiple=True, description="Upload", button_style="primary",
                                     icon="upload", layout=w.Layout(width="150px"))
        synthetic_examples = bool(self.examples) and all(e.label == "synthetic" for e in self.examples)
        self.example_dd = w.Dropdown(options=[("— choose an example —", -1)]
                                     + [(e.title, i) for i, e in enumerate(self.examples)],
                                     value=-1, description="or example", layout=w.Layout(width="470px"),
                                     style={"description_width": "75px"})
        self.clear_btn = w.Button(description="Clear", icon="times", layout=w.Layout(width="90px"))
        limits = (f"JPEG, PNG or DICOM, one 2-D slice each, up to {megabytes(config.MAX_UPLOAD_BYTES)} per file "
                  f"({megabytes(WS_MAX_MESSAGE_BYTES)} per selection); several files at once give one card each.")
        if synthetic_examples:
            limits += " No dataset found: the examples are synthetic phantoms (not MRI)."
        self.hint = w.HTML(f'<div class="bm-note">{esc(limits)}</div>')
        self.busy = w.HTML()
        self.cards = w.VBox()
        predict_tab = w.VBox([w.HBox([self.uploader, self.example_dd, self.clear_btn],
                                     layout=w.Layout(align_items="center", flex_flow="row wrap")),
                              self.hint, self.busy, self.cards])

        choices = [(f"{m.name} ({m.meta.get('arch', '?')}, {str(m.meta.get('trained_at', '?'))[:10]})", str(m.keras_path))
                   for m in self.models if m.available]
        self.model_dd = w.Dropdown(options=choices or [("(no model file found)", "")], description="Predict with",
                                   layout=w.Layout(width="520px"), style={"description_width": "90px"})
        self._model_summaries: list[tuple[ModelEntry, Any]] = []
        cards = []
        for m in self.models:
            if not m.available:  # a record whose weights are not here: named in one line below, not a card
                continue
            card, summary = model_card(m)
            cards.append(card)
            self._model_summaries.append((m, summary))
        missing = [m.name for m in self.models if not m.available]
        if not cards:
            cards = [w.HTML(f'<div class="bm-warn">No model records in {esc(config.MODELS_DIR.name)}/: train one with '
                            '<code>brain-mri train</code> (or <code>make train</code>), then '
                            '<code>brain-mri evaluate</code>.</div>')]
        models_tab = w.VBox([w.HTML('<div class="bm-h2">Models</div><div class="bm-note">Metrics are on the leak-free '
                                    'test split (no near-duplicate of a test image in training), with 95 % bootstrap '
                                    'confidence intervals; the official Kaggle test split is shown for comparison '
                                    'only (it leaks). Models are read from models/; uploading a model through the '
                                    'browser is not possible.</div>'), self.model_dd] + cards
                            + [w.HTML(f'<div class="bm-note bm-missing-models">{esc(missing_models_line(missing))}</div>')
                               if missing else w.HTML("")]
                            + [w.HTML(f'<div class="bm-note">{experiments_line()}</div>')])
        self.tabs = w.Tab(children=[predict_tab, models_tab], titles=("Predict", "Models"))
        self.root = w.VBox([w.HTML(CSS), self.banner, self.title, self.status, self.tabs])
        self.root.add_class("bm-root")

        self.uploader.observe(self._on_upload, names="value")
        self.example_dd.observe(self._on_example, names="value")
        self.clear_btn.on_click(lambda _b: self.clear())

        self.select_model(start)
        if choices and str(start.resolve()) in [c[1] for c in choices]:
            self.model_dd.value = str(start.resolve())
        self.model_dd.observe(self._on_model, names="value")
        self._warm_render()

    def _warm_render(self) -> None:
        """Process and render one phantom off-page: the first real upload then pays no first-call costs
        (PNG encoder, widget classes, JSON of the figure), only its own ~0.1-0.2 s."""
        try:
            from ..data.synthetic import make_phantom

            res = process_upload("warm-up.png", png(make_phantom("glioma", seed=1, size=192)[0]), self.predictor,
                                 threshold=self.threshold)
            _close_tree(render_card(res))
        except Exception:  # noqa: BLE001 - warm-up is an optimisation only
            log.warning("render warm-up failed", exc_info=True)

    # -- model
    def select_model(self, path) -> bool:
        """Use the model at `path` for predictions (loaded once per kernel). False + a page message if it fails."""
        path = Path(path)
        t0 = time.perf_counter()
        try:
            with _quiet():
                p = get_predictor(path)
        except Exception as e:  # noqa: BLE001 - ModelError, missing file, broken file: one line in the page
            log.warning("model load failed: %s", path, exc_info=True)
            self.predictor, self.model_path = None, path
            self.threshold, self.threshold_src = DEFAULT_ABSTAIN, "default"
            msg = load_message(path, e)
            hint = "" if "brain-mri train" in msg else " Train one with <code>brain-mri train</code>."
            self.status.value = (f'<div class="bm-status bm-bad" data-model-error="1"><b>No model loaded</b> — '
                                 f'{esc(msg)}.{hint} Uploads still get the input checks.</div>')
            self._mark_in_use()
            return False
        self.predictor, self.model_path = p, path
        self.threshold, self.threshold_src = abstain_threshold(getattr(p, "meta", None))
        meta = getattr(p, "meta", {}) or {}
        extra = ""
        if dig(meta, "data", "synthetic"):
            extra = (' <span class="bm-badge" style="background:#fef9e7;color:#6e4c00">trained on synthetic phantoms: '
                     'its outputs on real MRI mean nothing</span>')
        temp = getattr(p, "temperature", None)
        self.status.value = (f'<div class="bm-status" data-model="{esc(getattr(p, "name", path.stem))}">Model '
                             f'<b>{esc(getattr(p, "name", path.stem))}</b> ({esc(meta.get("arch", "?"))}, '
                             f'{esc(getattr(p, "img_size", "?"))} px'
                             + (f", temperature {float(temp):.2f}" if isinstance(temp, (int, float)) else "")
                             + f') · tumour call at P(tumour) ≥ {threshold(screening_threshold(meta))} · abstain '
                             f'below {threshold(self.threshold)} ({esc(self.threshold_src)}) · '
                             f'ready in {time.perf_counter() - t0:.1f} s{extra}</div>')
        self._mark_in_use()
        return True

    def _mark_in_use(self):
        for m, summary in self._model_summaries:
            try:
                in_use = self.model_path is not None and self.predictor is not None and \
                    m.keras_path == Path(self.model_path).expanduser().resolve()
                summary.value = model_summary_html(m, in_use)
            except Exception:  # noqa: BLE001
                log.warning("model summary failed", exc_info=True)

    def _on_model(self, change):
        if change["new"]:
            self.select_model(change["new"])
            if self._last_inputs:
                self.run(self._last_inputs)

    # -- inputs
    def run(self, items: list[tuple[str, Any, str | None]]) -> list[Result]:
        """Process (name, bytes, true_label) items and show one card each; returns the Results."""
        t0 = time.perf_counter()
        self._last_inputs = list(items)
        shown = items[: self.MAX_CARDS]
        self.busy.value = f'<div class="bm-note">processing {len(shown)} file(s)…</div>'
        results, cards = [], []
        for name, data, label in shown:
            try:
                res = process_upload(name, data, self.predictor, true_label=label, threshold=self.threshold)
            except Exception as e:  # noqa: BLE001 - process_upload should not raise; belt and braces
                log.warning("process_upload raised", exc_info=True)
                res = Result(name=str(name), error=f"unexpected error: {one_line(e)}")
            results.append(res)
            try:
                cards.append(render_card(res))
            except Exception as e:  # noqa: BLE001
                log.warning("render failed", exc_info=True)
                cards.append(render_card(Result(name=res.name, error=f"could not display the result: {one_line(e)}")))
        old = self.cards.children
        self.cards.children = cards
        for c in old:  # free the old cards' comms (and their image bytes in the kernel)
            _close_tree(c)
        self.results = results
        dt = time.perf_counter() - t0
        more = f"; only the first {self.MAX_CARDS} of {len(items)} files are shown" if len(items) > len(shown) else ""
        n_err = sum(1 for r in results if r.error)
        self.busy.value = (f'<div class="bm-note" data-done="{len(results)}">{len(results)} file(s) in {dt:.2f} s'
                           + (f", {n_err} could not be used" if n_err else "") + f"{more}</div>")
        return results

    def _on_upload(self, change):
        files = change["new"] or ()
        if not files:
            return
        items = []
        for f in files:
            try:
                items.append((str(f["name"]), f["content"], None))
            except Exception:  # noqa: BLE001 - malformed entry from the front end
                items.append(("upload", b"", None))
        self.example_dd.value = -1
        self.run(items)

    def _on_example(self, change):
        i = change["new"]
        if i is None or i < 0:
            return
        ex = self.examples[i]
        try:
            data = ex.load()
        except Exception as e:  # noqa: BLE001
            data = b""
            log.warning("example %s unreadable: %s", ex.name, e)
        self.run([(ex.name, data, ex.label)])

    def clear(self):
        old = self.cards.children
        self.cards.children = ()
        for c in old:
            _close_tree(c)
        self.results, self._last_inputs = [], []
        self.busy.value = ""
        self.example_dd.value = -1
        self.uploader.value = ()  # the button's file counter too (_on_upload ignores an empty value)

    @property
    def layout(self):
        return self.root


def _close_tree(widget) -> None:
    """Close a widget and its descendants (frees their comms); never Widget.close_all, which closes every widget."""
    for child in getattr(widget, "children", ()) or ():
        _close_tree(child)
    try:
        widget.close()
    except Exception:  # noqa: BLE001
        pass


class _quiet:
    """Silence Python warnings and stray prints while TensorFlow/Keras load: they would land in the page."""

    def __enter__(self):
        import contextlib
        import warnings

        self._stack = contextlib.ExitStack()
        self._stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        self._buf = io.StringIO()
        self._stack.enter_context(contextlib.redirect_stdout(self._buf))
        self._stack.enter_context(contextlib.redirect_stderr(self._buf))
        return self

    def __exit__(self, *exc):
        self._stack.close()
        if self._buf.getvalue().strip():
            log.info("suppressed output: %s", self._buf.getvalue()[-2000:])
        return False


def preload() -> float:
    """Import the inference runtime (and the widget stack) now, in a cell of its own: under Voila every cell has its
    own timeout. onnxruntime, not TensorFlow: models run on their ONNX export (modeling.runtime). Never raises."""
    t0 = time.perf_counter()
    try:
        with _quiet():
            import ipywidgets  # noqa: F401
            import onnxruntime  # noqa: F401
    except Exception:  # noqa: BLE001 - build_dashboard reports the real problem in the page
        log.warning("preload failed", exc_info=True)
    return time.perf_counter() - t0


def build_dashboard(model: str | Path | None = None):
    """The dashboard object (``.root`` is the page). Never raises: a failure becomes a page with the reason."""
    try:
        with _quiet():
            return Dashboard(model=model)
    except Exception as e:  # noqa: BLE001
        import ipywidgets as w

        log.exception("dashboard failed to build")

        class _Broken:
            root = w.VBox([w.HTML(CSS), w.HTML(f'<div class="bm-banner">⚠ {esc(DISCLAIMER)}</div>'),
                           w.HTML('<div class="bm-status bm-bad">The dashboard could not start: '
                                  f'{esc(one_line(e))}</div>')])
            layout = root

        return _Broken()
