"""Serving capacity as a person would see it, for `make bench`: the dashboard served by `brain-mri dashboard`'s own
options (helpers.app.serve), next to a one-cell ipywidgets notebook served the same way.

- first page: seconds for one HTTP GET of the page (Voila answers once the notebook has run), with the preheated
  pool (what the first viewers get) and without it (a burst larger than the pool), dashboard against one-cell;
- a room at once: N headless Chromium pages (Debian's /usr/bin/chromium, Playwright) open the dashboard together and
  each uploads a slice; a page counts when its result card shows;
- memory per viewer: resident memory (RSS, and PSS: shared pages split between processes) of every kernel after
  the uploads, and how many viewers fit in the memory this machine had available when the run started.

Not a test: the numbers depend on the machine and its load (recorded beside them). Servers listen on loopback only
and are always stopped (SIGTERM, then their kernels by pid).
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import config
from . import serve

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
N_PAGES = 6  # the room: 6 simultaneous page views
TARGETS = {"kernel_rss_mb": 400.0, "first_page_ratio": 3.0}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
ONE_CELL = {"cells": [{"cell_type": "code", "execution_count": None, "id": "one", "metadata": {}, "outputs": [],
                       "source": "import ipywidgets as w\nw.IntSlider(description='one cell')"}],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def stop_server(proc, kids, timeout: float = 60) -> None:
    """Stop a Voila server started in its own process group (SIGTERM, then SIGKILL) and any kernel it left behind
    (`kids`: psutil processes; is_running guards against a reused pid). The load test and the tests' fixture share it."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    for k in kids:
        try:
            if k.is_running():
                k.kill()
        except Exception:  # noqa: BLE001 - already gone
            pass


class Server:
    """serve.serve(notebook, pool) in a child process on a free loopback port; `with Server(...) as s:` waits until
    it listens and its pool is filled, and stops it and its kernels on exit."""

    def __init__(self, notebook: Path, pool: int, log_dir: Path):
        self.notebook, self.pool, self.port = Path(notebook), int(pool), _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = Path(log_dir) / f"voila-{self.notebook.stem}-pool{pool}-{self.port}.log"

    def __enter__(self) -> "Server":
        env = {**os.environ, serve.POOL_ENV: str(self.pool), "TF_CPP_MIN_LOG_LEVEL": "2"}
        code = f"from helpers.app.serve import serve; serve(port={self.port}, notebook={str(self.notebook)!r})"
        self._fh = open(self.log, "wb")
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=config.PROJ_ROOT, env=env, stdout=self._fh,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait(self, timeout: float = 600) -> None:
        deadline, need = time.time() + timeout, f"is filled with {self.pool} kernel"
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"voila exited: {self.log.read_text(errors='replace')[-1500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    if self.pool <= 0 or need in self.log.read_text(errors="replace"):
                        self.settle()
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"voila not ready within {timeout:.0f} s")

    def settle(self, quiet_s: float = 0.05, timeout: float = 300) -> None:
        """Wait until the kernels stop using CPU: "pool filled" is logged when they start, before the notebook ran."""
        deadline, calm, last = time.time() + timeout, 0, None
        while time.time() < deadline and calm < 3:
            time.sleep(0.5)
            cpu = 0.0
            for k in self.kernels():
                try:
                    t = k.cpu_times()
                    cpu += t.user + t.system
                except Exception:  # noqa: BLE001 - a kernel that just exited
                    pass
            calm = calm + 1 if last is not None and cpu - last < quiet_s else 0
            last = cpu

    def kernels(self) -> list:
        import psutil

        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return []
        return [k for k in kids if "ipykernel" in " ".join(k.cmdline())]

    def memory(self) -> dict:
        """RSS and PSS (MB) of the server and of each kernel."""
        import psutil

        def mb(p):
            try:
                full = p.memory_full_info()
                return full.rss / 2**20, getattr(full, "pss", full.rss) / 2**20
            except psutil.Error:
                return None

        ks = [m for m in (mb(k) for k in self.kernels()) if m]
        server = mb(psutil.Process(self.proc.pid))
        return {"server_rss_mb": server[0] if server else None, "kernels": len(ks),
                "kernel_rss_mb": [round(r, 1) for r, _ in ks], "kernel_pss_mb": [round(p, 1) for _, p in ks]}

    def __exit__(self, *exc) -> None:
        stop_server(self.proc, self.kernels(), timeout=60)
        self._fh.close()


def get_page(url: str, timeout: float = 600) -> float:
    """Seconds for one GET of a Voila page; RuntimeError unless it rendered widgets with no traceback."""
    import requests

    t = time.perf_counter()
    r = requests.get(url, timeout=timeout)
    dt = time.perf_counter() - t
    if r.status_code != 200 or WIDGET_MIME not in r.text or "Traceback" in r.text:
        raise RuntimeError(f"GET {url}: HTTP {r.status_code}, widgets {WIDGET_MIME in r.text}")
    return dt


def first_pages(notebooks: dict[str, Path], log_dir: Path, reps: int = 3) -> dict:
    """First-page seconds per notebook: 'preheated' (the first GET, from the pool) and 'cold' (pool 0: the median of
    `reps` GETs, each starting a kernel)."""
    out: dict = {}
    for name, nb in notebooks.items():
        with Server(nb, serve.POOL_SIZE, log_dir) as s:
            out.setdefault(name, {})["preheated_s"] = get_page(s.url)
        with Server(nb, 0, log_dir) as s:
            ts = [get_page(s.url) for _ in range(reps)]
            out[name]["cold_s"], out[name]["cold_all_s"] = float(np.median(ts)), ts
    return out


def room(server: Server, image: Path, n: int = N_PAGES, timeout_ms: int = 600_000) -> dict:
    """N pages at once, each uploading `image`; memory of the kernels measured while the pages are still open."""
    from playwright.async_api import async_playwright

    async def main():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
            try:
                t = time.perf_counter()
                rows = await asyncio.gather(*(_view(browser, server.url, image, i, timeout_ms) for i in range(n)))
                wall = time.perf_counter() - t
                await asyncio.sleep(2.0)  # the kernels settle after their last message
                mem = server.memory()
                return rows, wall, mem
            finally:
                await browser.close()

    rows, wall, mem = asyncio.run(main())
    return {"n": n, "rendered": sum(r["ok"] for r in rows), "wall_s": round(wall, 2), "pages": rows, **mem}


async def _view(browser, url: str, image: Path, i: int, timeout_ms: int) -> dict:
    """One viewer: open the page, upload `image`, wait for its card."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    row: dict = {"page": i, "ok": False}
    t0 = time.perf_counter()
    try:
        await page.goto(url, timeout=timeout_ms)  # returns at the load event: the server's HTML is in
        row["html_s"] = round(time.perf_counter() - t0, 2)
        upload = page.locator("button.widget-upload").first
        await upload.wait_for(timeout=timeout_ms)
        row["page_s"] = round(time.perf_counter() - t0, 2)
        async with page.expect_file_chooser(timeout=timeout_ms) as fc:
            await upload.click()
        t1 = time.perf_counter()
        await (await fc.value).set_files(str(image))
        await page.locator(".bm-card-title", has_text=image.name).first.wait_for(timeout=timeout_ms)
        row["card_s"] = round(time.perf_counter() - t1, 2)
        row["ok"] = "Traceback" not in await page.content() and not errors
        if errors:
            row["errors"] = errors[:3]
    except Exception as e:  # noqa: BLE001 - one failed page is a result, not a crash of the bench
        row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    return row


def sample_image(folder: Path, data_file: Path | None = None) -> Path:
    """The slice every viewer uploads: `data_file` (a real one, from the bench's dataset) or a phantom JPEG."""
    if data_file is not None and Path(data_file).is_file():
        out = folder / Path(data_file).name
        out.write_bytes(Path(data_file).read_bytes())
        return out
    from PIL import Image

    from ..data.synthetic import make_phantom

    out = folder / "phantom-glioma.jpg"
    Image.fromarray(make_phantom("glioma", seed=3, size=512)[0]).save(out, quality=92)
    return out


def run(n_pages: int = N_PAGES, data_file: Path | None = None) -> dict:
    """Every serving figure of the module docstring, as one JSON-able dict."""
    import psutil

    res: dict = {"loadavg_at_start": list(os.getloadavg()), "pool_size": serve.POOL_SIZE,
                 "cull_idle_s": serve.CULL_IDLE_S, "mem_available_mb": psutil.virtual_memory().available / 2**20,
                 "mem_total_mb": psutil.virtual_memory().total / 2**20}
    with tempfile.TemporaryDirectory(prefix="brain-mri-serve-") as tmp:
        tmp = Path(tmp)
        one = tmp / "one_cell.ipynb"
        one.write_text(json.dumps(ONE_CELL))
        dash = config.NOTEBOOKS_DIR / "dashboard.ipynb"
        res["first_page"] = first_pages({"dashboard": dash, "one_cell": one}, tmp)
        fp = res["first_page"]
        res["first_page_ratio"] = {m: fp["dashboard"][f"{m}_s"] / fp["one_cell"][f"{m}_s"]
                                   for m in ("preheated", "cold")}
        res["loadavg_after_first_pages"] = list(os.getloadavg())
        if not CHROMIUM.exists():
            res["room"] = {"skipped": f"{CHROMIUM} missing (apt-get install -y chromium)"}
        else:
            with Server(dash, serve.POOL_SIZE, tmp) as s:
                idle = s.memory()
                res["room"] = room(s, sample_image(tmp, data_file), n_pages)
                res["room"]["idle_pool"] = idle
        res["loadavg_at_end"] = list(os.getloadavg())
    r = res.get("room", {})
    if r.get("kernel_rss_mb"):
        per = max(r["kernel_rss_mb"])
        res["viewer_rss_mb"] = per
        res["viewer_pss_mb"] = max(r["kernel_pss_mb"])
        # memory available at the start, less the server and the idle pool, over the largest kernel's RSS
        spare = res["mem_available_mb"] - (r.get("server_rss_mb") or 0) - serve.POOL_SIZE * per
        res["viewers_held"] = int(spare // per)
    return res


def _secs(x: float) -> str:
    """Seconds to 2 significant digits: a page from the pool takes milliseconds, "0.00 s" would hide it."""
    return f"{x:.2g} s" if x < 1 else f"{x:.1f} s"


def format_rows(s: dict) -> list[tuple[str, str, str]]:
    """(label, measured, target) rows for bench.format_table."""
    rows = []
    fp, ratio = s["first_page"], s["first_page_ratio"]
    for m, label in (("preheated", "pool"), ("cold", "no pool")):
        rows.append((f"first page ({label}): dashboard / one-cell", f"{_secs(fp['dashboard'][f'{m}_s'])} / "
                     f"{_secs(fp['one_cell'][f'{m}_s'])} = {ratio[m]:.1f}x", f"<= {TARGETS['first_page_ratio']:g}x"))
    r = s.get("room", {})
    if "skipped" in r:
        rows.append(("simultaneous pages", f"skipped: {r['skipped']}"[:40], ""))
        return rows
    rows.append((f"{r['n']} pages at once, each uploads: cards", f"{r['rendered']}/{r['n']}", f"{r['n']}/{r['n']}"))
    got = {k: [p[k] for p in r["pages"] if p.get(k) is not None] for k in ("html_s", "page_s", "card_s")}
    if all(got.values()):  # the browsers share this machine's CPU with the server: slower than on viewers' own
        rows.append(("  max: page loaded / usable / card", "/".join(f"{max(v):.1f}" for v in got.values()) + " s",
                     ""))
    if s.get("viewer_rss_mb"):
        rows.append(("memory per viewer kernel, max RSS (PSS)",
                     f"{s['viewer_rss_mb']:.0f} ({s['viewer_pss_mb']:.0f}) MB", f"<= {TARGETS['kernel_rss_mb']:g} MB"))
        rows.append((f"viewers held ({s['mem_available_mb'] / 1024:.1f} GB available)", f"~{s['viewers_held']}", ""))
    return rows


README_BEGIN = "<!-- capacity:begin (generated by `make bench` from bench/results.json; do not edit) -->"
README_END = "<!-- capacity:end -->"


def capacity_markdown(s: dict, when: str, source: str) -> str:
    """The README's capacity block from one run's serving figures (`s`, as run() returns them)."""
    fp, ratio, r = s["first_page"], s["first_page_ratio"], s.get("room", {})
    lines = [f"Measured by `make bench` on {when[:10]} ({os.cpu_count()} CPUs, load average "
             f"{s['loadavg_at_start'][0]:.1f} at the start, {s['loadavg_at_end'][0]:.1f} at the end; `{source}`):", "",
             "| | measured | target |", "|---|---|---|"]
    for m, what in (("preheated", f"from the pool of {s['pool_size']} preheated kernels"),
                    ("cold", "when the pool is used up (a fresh kernel)")):
        lines.append(f"| first page {what}: dashboard / one-cell notebook | {_secs(fp['dashboard'][f'{m}_s'])} / "
                     f"{_secs(fp['one_cell'][f'{m}_s'])} ({ratio[m]:.1f}×) | ≤ {TARGETS['first_page_ratio']:g}× |")
    if "pages" in r:
        usable = [p["page_s"] for p in r["pages"] if p.get("page_s") is not None]
        slow = f"; the slowest was usable after {max(usable):.0f} s" if usable else ""
        lines.append(f"| {r['n']} Chromium pages open it at once and each uploads a slice | "
                     f"{r['rendered']} of {r['n']} show their result card{slow} (the browsers ran on the same "
                     "machine) | all |")
    if s.get("viewer_rss_mb"):
        lines.append(f"| memory per viewer kernel (largest, after an upload) | {s['viewer_rss_mb']:.0f} MB resident "
                     f"({s['viewer_pss_mb']:.0f} MB proportional) | ≤ {TARGETS['kernel_rss_mb']:g} MB |")
        lines.append(f"| viewers this machine holds (memory available at the start, {s['mem_available_mb'] / 1024:.1f} "
                     f"GB, less the server and the pool, over a kernel's memory) | about {s['viewers_held']} | |")
    return "\n".join(lines)


def write_readme_block(s: dict, when: str, source: str, readme: Path = config.PROJ_ROOT / "README.md") -> bool:
    """Replace the README's capacity block (between README_BEGIN and README_END); False when the markers are absent."""
    text = readme.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    tail = rest.split(README_END, 1)[1]
    block = capacity_markdown(s, when, source)
    readme.write_text(f"{head}{README_BEGIN}\n{block}\n{README_END}{tail}", encoding="utf-8")
    return True


def main() -> int:
    """`python -m helpers.app.loadtest [N]`: the serving figures alone, printed and written to bench/serving.json."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else N_PAGES
    s = run(n)
    la = s["loadavg_at_start"]
    print(f"serving bench, load avg {la[0]:.1f} at start, {s['loadavg_at_end'][0]:.1f} at end")
    for label, val, target in format_rows(s):
        print(f"{label:<44}{val:>22}{target:>12}")
    out = config.writable_dir(config.BENCH_DIR) / "serving.json"
    out.write_text(json.dumps(s, indent=1))
    print(f"wrote {out.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
