"""What readers and presenters see: one number prints one way in the README, the model card, the notebooks and the
dashboard, and the dashboard's headline cannot contradict itself (issue 17)."""
import json

import numpy as np
import pytest

from helpers import config, formatting, records
from helpers.app import cards, models_tab, registry
from helpers.app.upload import Result
from helpers.reporting import docs, model_card, tables


# ----------------------------------------------------------------------------------------- the house style
def test_one_style_per_kind_of_number():
    b = {"value": 0.98581, "ci": [0.9782, 0.9924]}
    assert formatting.fmt_metric("accuracy", b) == "98.6% (95% CI 97.8–99.2)"
    assert formatting.metric({"x": {"accuracy": b}}, "x", "accuracy") == formatting.fmt_metric("accuracy", b)
    assert formatting.value_ci(b) == formatting.pct_ci(b)
    auc = {"value": 0.99961, "ci": [0.99912, 0.99993]}
    # ROC-AUC has one number of decimals whatever the caller asked for
    assert formatting.metric({"roc_auc": auc}, "roc_auc", fmt="{:.3f}") == formatting.auc(auc) == "0.9996 (0.9991–0.9999)"
    assert formatting.fmt_metric("sensitivity", {"value": 0.99469, "ci": [0.989, 0.99867]}) == "99.47% (95% CI 98.90–99.87)"
    assert formatting.fmt_metric("macro_f1", {"value": 0.9861, "ci": [0.978, 0.992]}) == "0.986 (0.978–0.992)"
    assert formatting.pct_ci({"value": 0.5, "ci": [float("nan")] * 2}) == "50.0%"  # no "nan–nan"
    assert formatting.threshold(0.9125133) == "0.913"


def _shipped():
    # the report's model (README, model card, notebook 04); the dashboard's default may be another one
    meta = records.read(config.MODELS_DIR, getattr(config, "REPORT_MODEL_NAME", config.DEFAULT_MODEL_NAME))
    if not meta or not meta.get("evaluation"):
        pytest.skip("no evaluated report model")
    return meta


def _key_strings(meta: dict) -> dict:
    lf = meta["evaluation"]["leakfree_test"]
    return {"accuracy": formatting.fmt_metric("accuracy", lf["accuracy"]),
            "sensitivity": formatting.fmt_metric("sensitivity", lf["tumour"]["sensitivity"]),
            "specificity": formatting.fmt_metric("specificity", lf["tumour"]["specificity"]),
            "roc_auc": formatting.auc(lf["tumour"]["roc_auc"]),
            "macro_f1": formatting.fmt_metric("macro_f1", lf["macro_f1"])}


def test_same_record_same_string_in_readme_model_card_notebook_tables_and_dashboard():
    meta = _shipped()
    want = _key_strings(meta)
    readme = (config.PROJ_ROOT / "README.md").read_text()
    summary = readme.split(docs.SUMMARY_BEGIN)[1].split(docs.SUMMARY_END)[0].strip()
    assert summary == docs.summary_markdown().strip(), "README is stale: run `brain-mri docs`"
    card = model_card.model_card()
    results = model_card.results_markdown()
    html = models_tab.model_summary_html(registry.ModelEntry(meta["name"], config.DEFAULT_MODEL, None, meta))
    table = tables.metrics_table({meta["name"]: meta}, "leakfree_test").to_string()
    for key, s in want.items():
        assert s in results and s in card, (key, s)
        assert s in html, (key, s, "the Models tab prints it differently")
        assert s in table, (key, s, "notebook 04's table prints it differently")
    assert want["accuracy"] in summary  # the in-dataset model's finding
    # the first screen leads with the shipped model's call, printed as the dashboard's Models tab prints it
    shipped = records.read(config.MODELS_DIR, config.DEFAULT_MODEL_NAME)
    sc = ((shipped or {}).get("evaluation") or {}).get("leakfree_test", {}).get("screening")
    if sc:
        tab = models_tab.model_summary_html(registry.ModelEntry(shipped["name"], config.DEFAULT_MODEL, None, shipped))
        for key in ("sensitivity", "specificity"):
            s = formatting.fmt_metric(key, sc[key])
            assert s in summary and s in tab, (key, s)
        assert f"P(tumour) ≥ {formatting.threshold(sc['threshold'])}" in summary


def test_committed_evaluation_notebook_prints_the_readme_numbers():
    meta = _shipped()
    nb = config.NOTEBOOKS_DIR / "04-evaluation.ipynb"
    text = json.dumps(json.loads(nb.read_text())["cells"], ensure_ascii=False)
    if '"outputs": []' in text and text.count('"output_type"') == 0:
        pytest.skip("notebook 04 is committed without outputs")
    for key in ("accuracy", "roc_auc"):
        s = _key_strings(meta)[key]
        assert s in text, f"notebook 04 does not print {key} as {s!r}: rerun `brain-mri report --inplace`"


def test_readme_first_screen_and_what_make_report_rewrites():
    readme = (config.PROJ_ROOT / "README.md").read_text()
    head = readme.split("## Two commands")[0]
    assert len([ln for ln in head.splitlines()[1:] if ln.strip()]) <= 5, "what it is: at most 5 lines"
    first = readme[:readme.index("## What we find")]
    assert "make report" in first and "make test" in first and "make dashboard" in first
    assert "figures/dashboard.png" in first and docs.SUMMARY_BEGIN in first
    for path in docs.REWRITTEN:
        assert f"`{path}`" in first, path
    assert "chromium" in first and "Model tab" not in readme


def test_cross_collection_slot_is_guarded(monkeypatch):
    import sys
    import types

    fake = types.ModuleType("helpers.reporting.cross_collection")
    fake.readme_lines = lambda: ["- unseen collection X: 70.0%", "plain line"]
    monkeypatch.setitem(sys.modules, "helpers.reporting.cross_collection", fake)
    import helpers.reporting as rp

    monkeypatch.setattr(rp, "cross_collection", fake, raising=False)
    assert docs.cross_collection_lines() == ["- unseen collection X: 70.0%", "- plain line"]
    fake.readme_lines = lambda: 1 / 0
    assert docs.cross_collection_lines() == []


# ----------------------------------------------------------------------------------------- the dashboard headline
def _result(**kw) -> Result:
    probs = np.array(kw.pop("probs", [0.2, 0.2, 0.42, 0.18]))
    base = dict(name="x.png", classes=list(config.CLASSES), probs=probs,
                predicted=config.CLASSES[int(np.argmax(probs))], confidence=float(np.max(probs)),
                p_tumour=float(1 - probs[list(config.CLASSES).index(config.NO_TUMOUR)]), abstain=False,
                abstain_threshold=0.913, call_threshold=0.5)
    base.update(kw)
    r = Result(name=base.pop("name"))
    for k, v in base.items():
        setattr(r, k, v)
    return r


def test_headline_says_what_p_tumour_sums_and_colours_by_the_call():
    r = _result(abstain=True)  # "Most likely: notumor (42%)" beside P(tumour) 58%
    html = cards.headline_html(r)
    assert "P(tumour) = glioma + meningioma + pituitary" in html
    assert cards.headline_state(r) == "uncertain" and cards.C_WARN in html and cards.C_TUMOUR not in html
    sure = _result(probs=[0.01, 0.01, 0.97, 0.01])
    assert cards.headline_state(sure) == "no_tumour" and cards.C_OK in cards.headline_html(sure)
    assert "chosen on validation" in cards.headline_html(sure)
    tum = _result(probs=[0.96, 0.02, 0.01, 0.01])
    assert cards.headline_state(tum) == "tumour" and "call: <b>tumour</b> (P(tumour) ≥ 0.5)" in cards.headline_html(tum)


def test_unfamiliar_scan_is_never_a_green_no_tumour():
    r = _result(probs=[0.0, 0.0, 1.0, 0.0], unfamiliar=True, warnings=["looks unlike the training scans"])
    html = cards.headline_html(r)
    assert cards.headline_state(r) == "unfamiliar" and cards.C_OK not in html
    assert "uncertain — unfamiliar scan" in html and "looks unlike the training scans" in html


def test_no_verdict_shows_only_the_reason():
    r = _result(probs=[0.1, 0.66, 0.1, 0.14], verdict=False, warnings=["a colour photograph, not an MRI slice"])
    html = cards.headline_html(r)
    assert 'data-verdict="0"' in html and "a colour photograph" in html and "No verdict" in html
    for absent in ("%", "meningioma", "data-p-tumour", cards.C_TUMOUR, cards.C_OK, cards.C_WARN):
        assert absent not in html, absent


def test_a_missing_track_record_is_said_not_left_out():
    sure = [0.96, 0.02, 0.01, 0.01]  # a tumour call: an uncertain one has no track record to quote
    html = cards.headline_html(_result(model="other_model", track_record=None, probs=sure))
    assert "bm-no-track" in html and "no track record" in html
    assert "bm-no-track" not in cards.headline_html(_result(model="m", track_record="wrong 1 in 300", probs=sure))
    assert "bm-no-track" not in cards.headline_html(_result(model="other_model", track_record=None))


def test_models_tab_names_records_without_weights_in_one_line():
    line = registry.missing_models_line(["b_model", "a_model"])
    assert line.startswith("2 more model records without weights here (a_model, b_model)")
    assert "Recipes compared" in line and registry.missing_models_line([]) == ""
    assert "SELECTION.md" in registry.experiments_line()


def test_contaminated_record_is_labelled_in_the_models_tab_and_the_summary():
    meta = {"name": "leaky", "evaluation": {"leakfree_test": {"n": 10, "contaminated": True,
                                                              "accuracy": {"value": 0.98, "ci": [0.97, 0.99]}}}}
    html = models_tab.model_summary_html(registry.ModelEntry("leaky", config.MODELS_DIR / "leaky.keras", None, meta))
    assert "contaminated: saw test pictures" in html
    from helpers.reporting import findings

    assert "leaky (contaminated: saw test pictures)" in findings.evaluation_summary_markdown({"leaky": meta})
