"""The committed report as a reader opens it: every notebook in notebooks/ and the README carry no absolute path of
the machine that made them, no stderr or error output, no plotly chart that needs a CDN to show, and no unrounded
floats in their text and tables (issue 17)."""
import json
import re

import pytest

from helpers import config
from helpers.reporting import runner

ABSOLUTE = re.compile(r"(?<![\w.~$<])(/work/|/home/|/root/|/tmp/|/Users/|/private/var/|[A-Z]:\\\\Users)")
# a float with five or more decimals, not part of a longer token (a version, a hash, a date)
UNROUNDED = re.compile(r"(?<![\w.])-?\d+\.\d{5,}(?![\w.])")
NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))


def _texts(output: dict):
    """(kind, text) of one output's readable parts; images and JavaScript bundles are not text a reader reads."""
    if output.get("output_type") == "stream":
        yield f"stream:{output.get('name')}", "".join(output.get("text", ""))
    for mime, val in (output.get("data") or {}).items():
        if mime.startswith("text/"):
            yield mime, "".join(val) if isinstance(val, list) else str(val)


def _readable(text: str) -> str:
    """Text outside <script> and <style> blocks (plotly's bundle and figure JSON are not read by anyone)."""
    return re.sub(r"<(script|style)\b.*?</\1>", "", text, flags=re.S | re.I)


def _problems(nb: dict) -> list[str]:
    out = []
    embedded_plotly = any("text/html" in (o.get("data") or {}) and "window.PlotlyConfig" in
                          "".join(o["data"]["text/html"]) and len("".join(o["data"]["text/html"])) > 500_000
                          for c in nb["cells"] for o in c.get("outputs", []))
    for i, cell in enumerate(nb["cells"]):
        src = "".join(cell.get("source", ""))
        if ABSOLUTE.search(src):
            out.append(f"cell {i}: absolute path in the source: {ABSOLUTE.search(src).group(0)}")
        for o in cell.get("outputs", []):
            kind = o.get("output_type")
            if kind == "error":
                out.append(f"cell {i}: error output {o.get('ename')}: {o.get('evalue', '')[:80]}")
            if kind == "stream" and o.get("name") == "stderr":
                out.append(f"cell {i}: stderr output: {''.join(o.get('text', ''))[:80]!r}")
            if "application/vnd.plotly.v1+json" in (o.get("data") or {}) and not embedded_plotly and not any(
                    "image/png" in (x.get("data") or {}) for x in cell.get("outputs", [])):
                out.append(f"cell {i}: plotly figure with neither plotly.js embedded in the notebook nor a static image")
            for mime, text in _texts(o):
                if "cdn.plot.ly" in text and not embedded_plotly:
                    out.append(f"cell {i}: plotly.js only from the CDN (blank offline)")
                m = ABSOLUTE.search(text)
                if m:
                    out.append(f"cell {i}: absolute path in a {mime} output: ...{text[max(0, m.start() - 30):m.end() + 30]!r}")
                floats = UNROUNDED.findall(_readable(text))
                if floats:
                    out.append(f"cell {i}: unrounded numbers in a {mime} output: {floats[:4]}")
    meta = json.dumps(nb.get("metadata", {}))
    if ABSOLUTE.search(meta):
        out.append(f"metadata: absolute path {ABSOLUTE.search(meta).group(0)}")
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook_is_clean(path):
    problems = _problems(json.loads(path.read_text(encoding="utf-8")))
    assert not problems, f"{path.name}:\n" + "\n".join(problems[:15])


def test_readme_is_clean():
    text = (config.PROJ_ROOT / "README.md").read_text(encoding="utf-8")
    assert not ABSOLUTE.search(text), ABSOLUTE.search(text).group(0)
    assert not UNROUNDED.findall(text), UNROUNDED.findall(text)[:5]


def test_the_checks_catch_what_they_should():
    """The detector itself: each kind of problem in a small fake notebook is reported."""
    def cell(*outputs, source=""):
        return {"cell_type": "code", "source": source, "outputs": list(outputs), "metadata": {}}

    bad = {"metadata": {}, "cells": [
        cell({"output_type": "stream", "name": "stderr", "text": "oneDNN custom operations are on"}),
        cell({"output_type": "error", "ename": "ValueError", "evalue": "x", "traceback": []}),
        cell({"output_type": "stream", "name": "stdout", "text": "wrote /work/main/reports/eda.json"}),
        cell({"output_type": "execute_result", "data": {"text/plain": "glioma  41.733002"}}),
        cell({"output_type": "display_data", "data": {"text/html": '<script src="https://cdn.plot.ly/plotly-2.js">'
                                                                   '</script>'}}),
        cell(source='OUTPUT_DIR = "/home/someone/reports"'),
    ]}
    found = "\n".join(_problems(bad))
    for what in ("stderr", "error output", "absolute path in a", "unrounded", "CDN", "absolute path in the source"):
        assert what in found, what
    ok = {"metadata": {}, "cells": [cell({"output_type": "execute_result",
                                          "data": {"text/plain": "98.6% (95% CI 97.8–99.2), AUC 0.9996, v3.11.2"}})]}
    assert _problems(ok) == []


def test_runner_cleans_stderr_and_scrubs_paths(monkeypatch, tmp_path):
    import nbformat

    monkeypatch.setenv("BRAIN_MRI_DATA", str(tmp_path / "data"))
    nb = nbformat.v4.new_notebook()
    inj = nbformat.v4.new_code_cell(f'OUTPUT_DIR = "{config.PROJ_ROOT.resolve()}/reports"')
    inj.metadata["tags"] = ["injected-parameters"]
    c = nbformat.v4.new_code_cell("x")
    c.outputs = [nbformat.v4.new_output("stream", name="stderr", text="absl: noise\n"),
                 nbformat.v4.new_output("stream", name="stdout", text=f"read {tmp_path / 'data'}/Training\n")]
    nb.cells = [inj, c]
    dropped = runner.clean_outputs(nb)["stderr"]
    assert dropped == ["absl: noise\n"]
    assert [o["name"] for o in nb.cells[1].outputs] == ["stdout"]
    assert nb.cells[1].outputs[0]["text"] == "read $BRAIN_MRI_DATA/Training\n"
    assert nb.cells[0].source == 'OUTPUT_DIR = "reports"'
    assert runner._relative_to(config.REPORTS_DIR, config.NOTEBOOKS_DIR) == "../reports"
