"""A real browser on the served dashboard: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Uploads an image through the FileUpload, waits for the calibrated probabilities (read from the page's table: they
sum to 1), the Grad-CAM image and the plotly chart; then a non-image (one-line error), a file above the size cap
(our message, and the socket still works: the next upload is answered). Screenshots go to reports/screenshots/;
with BRAIN_MRI_FIGURE=1 the Predict view is also written to figures/dashboard.png for the README.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import config

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
PAGE_TIMEOUT_MS = 900_000  # a fresh kernel imports TensorFlow: minutes when the CPU is shared with training
RESULT_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (pip) not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


def _sample_image(tmp_path: Path) -> Path:
    """A leak-free TEST image when the dataset is present (nicer screenshot), else a synthetic phantom."""
    try:
        from helpers.app import dashboard

        ex = [e for e in dashboard.list_examples(n_per_class=1) if e.label == "glioma"]
        if ex:
            p = tmp_path / ex[0].name
            p.write_bytes(ex[0].load())
            return p
    except Exception:  # noqa: BLE001
        pass
    from PIL import Image

    from helpers.data.synthetic import make_phantom

    p = tmp_path / "phantom-glioma.jpg"
    Image.fromarray(make_phantom("glioma", seed=3, size=512)[0]).save(p, quality=92)
    return p


def _upload(page, path: Path) -> float:
    """Choose `path` in the FileUpload; seconds from the choice to its card on the page."""
    with page.expect_file_chooser() as fc:
        page.locator("button.widget-upload").first.click()
    t0 = time.perf_counter()
    fc.value.set_files(str(path))
    page.locator(".bm-card-title", has_text=path.name).first.wait_for(timeout=RESULT_TIMEOUT_MS)
    return time.perf_counter() - t0


def test_upload_flow_in_chromium(browser, voila_server, tmp_path):
    url, log = voila_server
    shots = config.REPORTS_DIR / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1320, "height": 1650})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    t0 = time.perf_counter()
    page.goto(url, timeout=PAGE_TIMEOUT_MS)
    page.locator(".bm-banner").wait_for(timeout=PAGE_TIMEOUT_MS)
    print(f"\n[browser] dashboard visible after {time.perf_counter() - t0:.1f} s")
    assert "Research and teaching only" in page.locator(".bm-banner").inner_text()

    # 1. an MRI-like image: probabilities, P(tumour), Grad-CAM, chart
    img = _sample_image(tmp_path)
    dt = _upload(page, img)
    page.locator("table.bm-probs").first.wait_for(state="attached", timeout=RESULT_TIMEOUT_MS)  # in a <details>
    print(f"[browser] first result on the page {1000 * dt:.0f} ms after the file was chosen")
    probs = page.eval_on_selector_all("table.bm-probs tr[data-class]",
                                      "rows => rows.map(r => [r.dataset.class, parseFloat(r.dataset.p)])")
    assert [c for c, _ in probs] == list(config.CLASSES)
    assert abs(sum(p for _, p in probs) - 1.0) < 1e-4
    assert page.locator(".bm-headline .bm-big").first.inner_text().endswith("%")
    cam = page.locator("img.bm-gradcam").first
    cam.wait_for(timeout=RESULT_TIMEOUT_MS)
    assert cam.evaluate("el => el.naturalWidth") > 0
    page.locator(".bm-plot .js-plotly-plot").first.wait_for(timeout=RESULT_TIMEOUT_MS)  # plotly drew the bars
    time.sleep(1.0)  # let plotly finish its transition before the picture
    page.screenshot(path=str(shots / "dashboard-predict.png"))
    if os.environ.get("BRAIN_MRI_FIGURE") and config.DEFAULT_MODEL.is_file():  # the shipped, evaluated model
        assert "track record: in the leak-free test" in page.locator(".bm-card").first.inner_text()
    if os.environ.get("BRAIN_MRI_FIGURE"):  # the README picture: the dashboard itself, no empty page below it
        config.FIGURES_DIR.mkdir(parents=True, exist_ok=True)
        page.locator(".bm-root").first.screenshot(path=str(config.FIGURES_DIR / "dashboard.png"))

    # 2. not an image: a one-line error on its card, no traceback
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image\n" * 50)
    _upload(page, bad)
    err = page.locator("[data-error]").first
    err.wait_for(timeout=RESULT_TIMEOUT_MS)
    assert "not an image" in err.inner_text() and "\n" not in err.inner_text().strip()

    # 3. above the cap (but under the websocket cap): our message, and the socket survives
    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + np.random.default_rng(0).bytes(config.MAX_UPLOAD_BYTES + 1024))
    _upload(page, big)
    assert "file too large" in page.locator("[data-error]").first.inner_text()
    dt = _upload(page, img)
    page.locator("table.bm-probs").first.wait_for(state="attached", timeout=RESULT_TIMEOUT_MS)
    print(f"[browser] a later result on the page {1000 * dt:.0f} ms after the file was chosen")

    # 4. the Models tab
    page.locator(".lm-TabBar-tab", has_text="Models").first.click()
    page.locator(".bm-badge", has_text="in use").first.wait_for(timeout=RESULT_TIMEOUT_MS)
    page.screenshot(path=str(shots / "dashboard-models.png"))
    # the disclaimer stays in view while the page scrolls
    page.mouse.move(600, 800)
    page.mouse.wheel(0, 1200)
    time.sleep(0.5)
    box = page.locator(".bm-banner").bounding_box()
    assert box is not None and -1 <= box["y"] < 60, box
    assert "Traceback" not in page.content()
    assert not errors, errors
