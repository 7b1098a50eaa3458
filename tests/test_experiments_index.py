"""experiments/README.md's batch table (helpers.reporting.experiments_index): fresh, complete, and parsed right."""
import json

from helpers import config
from helpers.reporting import experiments_index as ei


def test_committed_index_is_fresh_and_lists_every_batch():
    text = (config.EXPERIMENTS_DIR / "README.md").read_text()
    block = text.split(ei.BEGIN)[1].split(ei.END)[0].strip()
    assert block == ei.markdown().strip(), "experiments/README.md is stale: run `brain-mri docs`"
    folders = sorted(p.name for p in config.EXPERIMENTS_DIR.glob("batch*_*") if p.is_dir())
    assert sorted(r["folder"] for r in ei.rows()) == folders
    for r in ei.rows():  # a saved decision line is shown as saved
        res = config.EXPERIMENTS_DIR / r["folder"] / "results.json"
        decision = json.loads(res.read_text()).get("decision") if res.is_file() else None
        if isinstance(decision, str) and decision.strip():
            assert r["outcome"] == decision.strip()


def test_rows_on_a_made_up_tree(tmp_path):
    a = tmp_path / "batch2_two"
    a.mkdir()
    (a / "PLAN.md").write_text("# Batch 2: does it | transfer? Pre-registered before any run.\n\nbody\n")
    (a / "results.json").write_text(json.dumps({"decision": "x 80.0% vs y 81.0%: not kept"}))
    b = tmp_path / "batch10_ten"
    b.mkdir()
    (b / "PLAN.md").write_text("# Batch 10: a measurement, pre-registered before any number of it.\n")
    (b / "DECISION.md").write_text("kept\n")
    (tmp_path / "batch3_nothing").mkdir()
    (tmp_path / "notes").mkdir()
    rows = ei.rows(tmp_path)
    assert [r["batch"] for r in rows] == [2, 3, 10]  # by number, not by name; other folders ignored
    assert rows[0]["question"] == "does it | transfer?" and rows[0]["outcome"] == "x 80.0% vs y 81.0%: not kept"
    assert rows[1]["question"] == "" and rows[1]["outcome"] == "see [SELECTION.md](SELECTION.md)"
    assert rows[2]["question"] == "a measurement" and rows[2]["outcome"] == "see [DECISION.md](batch10_ten/DECISION.md)"
    md = ei.markdown(tmp_path)
    assert "does it \\| transfer?" in md and md.count("\n| [") == 3
