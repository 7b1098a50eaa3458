"""The report: notebook structure, the papermill smoke chain on phantoms (and on real data when present), failures
that name the notebook and cell, and in-place copies free of machine paths."""
from __future__ import annotations

import json
import os
import sys
import time
import types
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers import config
from helpers.reporting import context, findings, runner, tables

REQUIRED_PARAMS = {"DATA_DIR", "SMOKE", "SEED", "IMG_SIZE", "EPOCHS", "OUTPUT_DIR"}


def _outputs_text(nb) -> str:
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream":
                parts.append(o.get("text", ""))
            for v in (o.get("data") or {}).values():
                parts.append(v if isinstance(v, str) else json.dumps(v))
    return "\n".join(parts)


def _errors(nb) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


# ------------------------------------------------------------------------------------------------ structure (fast)
@pytest.mark.parametrize("path", runner.notebook_paths(), ids=lambda p: p.name)
def test_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "title first"
    assert len(nb.cells[0].source.split("\n\n")) >= 2, "a purpose paragraph under the title"
    setup = nb.cells[1]
    assert setup.cell_type == "code" and "%autoreload 2" in setup.source and "from helpers import" in setup.source
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one parameters cell"
    import papermill as pm

    declared = set(pm.inspect_notebook(str(path)))
    assert REQUIRED_PARAMS <= declared
    if path.name.startswith("03"):
        assert "RETRAIN" in declared
    assert "SMOKE = False" in tagged[0].source and "if SMOKE" not in tagged[0].source
    after = nb.cells[nb.cells.index(tagged[0]) + 1].source
    assert after.startswith("if SMOKE:") and "context.banner(ctx)" in after
    assert not any("injected-parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells)


def test_notebook_paths_order_and_selection():
    names = [p.name for p in runner.notebook_paths()]
    assert names == sorted(names) and names[0].startswith("01") and len(names) == 6
    assert [p.name for p in runner.notebook_paths(["03"])] == ["03-modeling.ipynb"]
    with pytest.raises(FileNotFoundError, match="no report notebook"):
        runner.notebook_paths(["99"])


def test_context_without_data_falls_back_to_phantoms(tmp_path, monkeypatch):
    from helpers.data import synthetic

    monkeypatch.delenv("BRAIN_MRI_DATA", raising=False)
    monkeypatch.setattr(config, "RAW_DIR", tmp_path / "raw")  # the default data folder does not exist
    made = tmp_path / "synthetic" / "brain-tumor-mri"
    monkeypatch.setattr(synthetic, "ensure_synthetic", lambda *a, **k: synthetic.write_dataset(made, (2, 1), seed=1))
    ctx = context.context(None, smoke=True, output_dir=tmp_path / "out")
    assert ctx.root == made and ctx.synthetic and ctx.fig_dir == tmp_path / "out" / "figures"


# ------------------------------------------------------------------------------------------------ small fake notebooks
def _write_nb(path: Path, cells: list) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _params_cell(src: str):
    c = new_code_cell(src)
    c.metadata["tags"] = ["parameters"]
    return c


@pytest.fixture
def fake_notebooks(tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", folder)
    return folder


@pytest.mark.slow
def test_failing_cell_names_notebook_and_cell_and_keeps_partial_output(fake_notebooks, tmp_path, capsys):
    _write_nb(fake_notebooks / "01-ok.ipynb", [
        new_markdown_cell("# ok"), _params_cell("SMOKE = False\nDATA_DIR = None"),
        new_code_cell("import sys\nprint(sys.executable)")])
    _write_nb(fake_notebooks / "02-bad.ipynb", [
        new_markdown_cell("# bad"), _params_cell("SMOKE = False"), new_code_cell("x = 1"),
        new_code_cell("raise ValueError('boom in cell')"), new_code_cell("print('never runs')")])
    original = (fake_notebooks / "02-bad.ipynb").read_text()
    out = tmp_path / "out"
    with pytest.raises(runner.ReportError) as err:
        runner.run_report(smoke=True, out_dir=out, inplace=True, log=lambda *_: None)
    e = err.value
    assert e.notebook == "02-bad.ipynb" and isinstance(e.cell_index, int)
    assert "02-bad.ipynb" in str(e) and "ValueError: boom in cell" in str(e) and "cell" in str(e)
    partial = nbformat.read(e.output, as_version=4)
    assert any("boom in cell" in x for x in _errors(partial))
    assert "never runs" not in _outputs_text(partial)
    assert (out / "02-bad.html").is_file()
    # the first notebook ran in this interpreter's environment (the venv), not some other python3 on PATH
    ok = nbformat.read(out / "01-ok.ipynb", as_version=4)
    assert _outputs_text(ok).strip() == runner.scrub_paths(sys.executable)  # shown relative to the project
    # a failed run never writes back into notebooks/
    assert (fake_notebooks / "02-bad.ipynb").read_text() == original

    args = types.SimpleNamespace(smoke=True, retrain=False, data_dir=None, out_dir=str(tmp_path / "out2"),
                                 inplace=False)
    assert runner.cli_report(args) == 1
    msg = capsys.readouterr().err
    assert "error: 02-bad.ipynb failed at cell" in msg and "partial output kept at" in msg


@pytest.mark.slow
def test_inplace_copies_are_free_of_machine_paths(fake_notebooks, tmp_path):
    _write_nb(fake_notebooks / "01-params.ipynb", [
        new_markdown_cell("# p"),
        _params_cell("DATA_DIR = None\nSMOKE = False\nOUTPUT_DIR = None"),
        new_code_cell("print(SMOKE, DATA_DIR is not None)")])
    data = tmp_path / "some" / "data"
    data.mkdir(parents=True)
    recs = runner.run_report(smoke=False, data_dir=data, out_dir=tmp_path / "out", inplace=True, log=lambda *_: None)
    assert [r["notebook"] for r in recs] == ["01-params.ipynb"] and recs[0]["html"].is_file()
    copied = nbformat.read(fake_notebooks / "01-params.ipynb", as_version=4)
    assert not any("injected-parameters" in c.get("metadata", {}).get("tags", []) for c in copied.cells)
    assert "False True" in _outputs_text(copied)  # it ran with the injected values
    assert str(tmp_path) not in (fake_notebooks / "01-params.ipynb").read_text()
    executed = (tmp_path / "out" / "01-params.ipynb").read_text()
    assert str(data) not in json.dumps(json.loads(executed)["metadata"])


# ------------------------------------------------------------------------------------------------ the real chain
@pytest.fixture(scope="module")
def smoke_report(phantom_data, tmp_path_factory):
    """The five notebooks run in smoke mode on phantoms, from a copy of notebooks/ so that inplace=True is tested
    without touching the repository."""
    import shutil

    base = tmp_path_factory.mktemp("report")
    nbdir = base / "notebooks"
    nbdir.mkdir()
    for p in runner.notebook_paths():
        shutil.copy(p, nbdir / p.name)
    logs: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("BRAIN_MRI_DATA", raising=False)
        mp.setattr(config, "NOTEBOOKS_DIR", nbdir)
        t0 = time.time()
        recs = runner.run_report(smoke=True, data_dir=phantom_data, out_dir=base / "reports", inplace=True,
                                 log=logs.append)
        wall = time.time() - t0
    return {"out": base / "reports", "nbdir": nbdir, "records": recs, "logs": logs, "wall": wall,
            "data": phantom_data}


@pytest.mark.slow
def test_smoke_chain_runs_clean_with_banner(smoke_report):
    recs = smoke_report["records"]
    assert [r["notebook"] for r in recs] == [p.name for p in runner.notebook_paths()]
    for r in recs:
        nb = nbformat.read(r["output"], as_version=4)
        assert _errors(nb) == [], r["notebook"]
        assert context.BANNER_SYNTHETIC in _outputs_text(nb), f"no synthetic banner in {r['notebook']}"
        assert r["html"].is_file() and r["html"].stat().st_size > 10_000
    assert any("kernel CPU" in line for line in smoke_report["logs"])
    print(f"smoke chain on phantoms: {smoke_report['wall']:.0f} s wall; " + "; ".join(smoke_report["logs"]))


@pytest.mark.slow
def test_smoke_chain_writes_only_into_its_output(smoke_report):
    out = smoke_report["out"]
    # (figures/ and models/ may change meanwhile through teammates' runs: check where *this* run wrote instead)
    for r in smoke_report["records"]:
        text = _outputs_text(nbformat.read(r["output"], as_version=4))
        assert "figures -> <output>/figures | models -> <output>/models" in text, r["notebook"]
        saved = [line for line in text.splitlines() if line.startswith("saved ")]
        assert all(line.startswith("saved <output>/") for line in saved), saved
    assert {"fingerprint.html", "confusion_leakfree.png", "gradcam_gallery.png"} <= {p.name for p in (out / "figures").glob("*")}
    assert (out / "models" / "brain_tumor_cnn.predictions.csv").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["synthetic"] is True and summary["smoke"] is True
    assert summary["models"]["brain_tumor_cnn"]["leakfree_accuracy"]["value"] is not None
    eda = json.loads((out / "eda.json").read_text())
    assert eda["leakfree_cross_split_twins"] == 0


@pytest.mark.slow
def test_smoke_chain_inplace_copies_are_clean(smoke_report):
    for p in sorted(smoke_report["nbdir"].glob("0*.ipynb")):
        text = p.read_text()
        nb = nbformat.reads(text, as_version=4)
        assert not any("injected-parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells)
        assert str(smoke_report["out"]) not in text and str(smoke_report["data"]) not in text, p.name
        assert _errors(nb) == []


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.skipif(not os.environ.get("BRAIN_MRI_DATA"), reason="needs $BRAIN_MRI_DATA")
def test_smoke_chain_on_real_data(tmp_path):
    recs = runner.run_report(smoke=True, out_dir=tmp_path / "reports", log=lambda *_: None)
    assert (tmp_path / "reports" / "smoke-data" / config.DATASET_NAME / ".smoke-subset.json").is_file()
    for r in recs:
        nb = nbformat.read(r["output"], as_version=4)
        assert _errors(nb) == [], r["notebook"]
        text = _outputs_text(nb)
        assert context.BANNER_SMOKE in text and context.BANNER_SYNTHETIC not in text
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["synthetic"] is False and summary["smoke"] is True


def test_cluster_table_reads_the_cluster_block_and_skips_records_without_it():
    block = {"value": 0.9, "ci": [0.85, 0.95]}
    cluster = {"n_groups": 40, "accuracy": {"value": 0.9, "ci": [0.8, 0.97]}, "macro_f1": block,
               "sensitivity": block, "per_group_accuracy": {"value": 0.88, "ci": [0.8, 0.95]}}
    records = {"brain_tumor_cnn": {"evaluation": {"leakfree_test": {"n": 100, "accuracy": block, "cluster": cluster}}},
               "old": {"evaluation": {"leakfree_test": {"n": 100, "accuracy": block}}}}
    t = tables.cluster_table(records)
    assert len(t) == 1
    row = t.iloc[0]
    assert row["twin groups"] == 40 and row["images"] == 100
    assert row["accuracy (images resampled)"] == "90.0% (95% CI 85.0–95.0)"  # the house style (formatting.pct_ci)
    assert row["accuracy (groups resampled)"] == "90.0% (95% CI 80.0–97.0)"
    assert row["accuracy per twin group"].startswith("88.0%")
    records["seen"] = {"evaluation": {"leakfree_test": {"n": 100, "accuracy": block, "cluster": cluster,
                                                        "contaminated": True, "n_in_training_split": 80}}}
    assert "80 seen in training" in tables.cluster_table(records).loc["seen", "images"]


def test_inplace_refuses_to_put_demo_output_into_the_committed_notebooks(tmp_path, monkeypatch):
    real_nb = config.PROJ_ROOT / "notebooks"
    monkeypatch.delenv("BRAIN_MRI_DATA", raising=False)
    assert "smoke run" in runner.inplace_refusal(True, None, real_nb)
    # no dataset anywhere: the report would fall back to phantoms
    from helpers.data import layouts as data_mod

    monkeypatch.setattr(data_mod, "resolve_data_dir", lambda d=None, allow_synthetic=False: tmp_path / "phantoms")
    monkeypatch.setattr("helpers.data.synthetic.is_synthetic", lambda root: True)
    assert "synthetic phantoms" in runner.inplace_refusal(False, None, real_nb)
    monkeypatch.setattr("helpers.data.synthetic.is_synthetic", lambda root: False)
    assert runner.inplace_refusal(False, tmp_path, real_nb) is None  # real data, full run: allowed
    assert runner.inplace_refusal(True, None, tmp_path) is None  # a copy of notebooks/ elsewhere is not guarded
    # the CLI says why in one line and runs nothing
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", real_nb)
    monkeypatch.setattr(runner, "execute", lambda *a, **k: pytest.fail("a notebook ran despite the refusal"))
    args = types.SimpleNamespace(smoke=True, retrain=False, data_dir=None, out_dir=str(tmp_path / "out"), inplace=True)
    assert runner.cli_report(args) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.ipynb"))


def test_sensitivity_is_printed_with_two_decimals_so_a_miss_of_the_target_shows():
    b = {"n": 1057, "accuracy": {"value": 0.986, "ci": [0.978, 0.992]},
         "tumour": {"sensitivity": {"value": 0.994688, "ci": [0.989, 0.9987]},
                    "specificity": {"value": 0.993421, "ci": [0.983, 1.0]}}}
    t = tables.metrics_table({"brain_tumor_cnn": {"evaluation": {"leakfree_test": b}}})
    assert t.loc["our model", "tumour sensitivity"].startswith("99.47%")  # 99.5% would read as the target met
    text = findings.findings_markdown({"data": {}, "baselines": {}, "models": {"brain_tumor_cnn": {
        "leakfree_accuracy": b["accuracy"], "tumour_sensitivity": b["tumour"]["sensitivity"],
        "tumour_specificity": b["tumour"]["specificity"]}}})
    assert "99.47%" in text and "99.5%" not in text


def test_a_smoke_run_writes_beside_the_real_pages(monkeypatch, capsys):
    import argparse

    from helpers.reporting import runner

    seen = {}
    monkeypatch.setattr(runner, "run_report", lambda **kw: seen.update(kw))
    args = argparse.Namespace(smoke=True, retrain=False, data_dir=None, out_dir=None, inplace=False)
    assert runner.cli_report(args) == 0 and seen["out_dir"] == runner.SMOKE_DIR
    assert runner.cli_report(argparse.Namespace(**{**vars(args), "smoke": False})) == 0
    assert seen["out_dir"] == config.REPORTS_DIR
    capsys.readouterr()
    assert runner.cli_report(argparse.Namespace(**{**vars(args), "out_dir": str(config.REPORTS_DIR)})) == 0
    assert "smoke run is replacing the pages in reports/" in capsys.readouterr().err
