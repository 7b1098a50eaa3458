"""`brain-mri dashboard`: serve notebooks/dashboard.ipynb with Voila (lab template, sources stripped, a cell timeout
and a websocket message cap set on purpose).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .. import config


# One FileUpload selection travels as ONE websocket message (all files together, raw bytes). Tornado's default cap
# (10 MiB) would close the socket on a 15 MB file and leave a dead page; we raise it well above our own per-file
# cap so that an oversized file reaches process_upload and is refused there with a readable message.
WS_MAX_MESSAGE_BYTES = 8 * config.MAX_UPLOAD_BYTES
CELL_TIMEOUT_ENV = "BRAIN_MRI_VOILA_TIMEOUT"  # seconds per notebook cell; tests on a CPU shared with training raise it
POOL_ENV = "BRAIN_MRI_VOILA_POOL"  # preheated kernels kept ready (0: none)
# Kernels ready before the click: Voila runs the notebook in POOL kernels at start and refills the pool ~1 s after one
# is taken, so the first viewers get a page that is already computed. Each waiting kernel holds its memory (~0.2 GB
# with the ONNX runtime, `make bench`); a burst larger than the pool gets fresh kernels, a few seconds each.
POOL_SIZE = 2
# Culling: a closed tab's kernel is usually shut by the page itself; kernels of pages that vanished without it (a
# crashed browser, a plain HTTP GET) are culled after CULL_IDLE_S idle seconds with no connection. Connected kernels
# are never culled (cull_connected=False): a presenter's idle open tab keeps working.
CULL_IDLE_S, CULL_INTERVAL_S = 300, 60
# Our Voila template (app/voila/templates/brain-mri): lab's, less its Font Awesome links to a CDN. Voila finds it
# through JUPYTER_PATH, which serve() extends with TEMPLATE_ROOT.
TEMPLATE, TEMPLATE_ROOT = "brain-mri", Path(__file__).resolve().parent


def voila_argv(port: int, ip: str = "127.0.0.1", notebook: str | Path | None = None,
               pool: int | None = None) -> list[str]:
    """Voila's command line for the dashboard (the websocket cap is passed separately: see serve()). `pool`: the
    number of preheated kernels (default $BRAIN_MRI_VOILA_POOL, else POOL_SIZE)."""
    nb = Path(notebook) if notebook else config.NOTEBOOKS_DIR / "dashboard.ipynb"
    timeout = int(os.environ.get(CELL_TIMEOUT_ENV) or 120)  # a model without an ONNX export imports TensorFlow: ~10 s
    pool = int(os.environ.get(POOL_ENV) or POOL_SIZE) if pool is None else int(pool)
    return [str(nb), "--no-browser", f"--port={int(port)}", "--Voila.port_retries=0", f"--Voila.ip={ip}",
            f"--template={TEMPLATE}", "--strip_sources=True", f"--VoilaExecutor.timeout={timeout}",
            "--VoilaConfiguration.show_tracebacks=False",
            *(["--preheat_kernel=True", f"--pool_size={pool}"] if pool > 0 else []),
            f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_S}",
            f"--MappingKernelManager.cull_interval={CULL_INTERVAL_S}", "--MappingKernelManager.cull_connected=False"]


def serve(port: int = 8866, ip: str = "127.0.0.1", notebook=None) -> int:
    """Run Voila in this process until Ctrl-C / SIGTERM (kernels are shut down on exit).

    Front-end code execution: Voila's kernel manager only forwards comm_* / kernel_info / shutdown messages from
    the browser, so an execute_request sent over the kernel websocket is dropped (tests/test_voila.py checks it).
    """
    from voila.app import Voila

    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(TEMPLATE_ROOT), os.environ.get("JUPYTER_PATH")]))
    if ip not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {ip} without a token: anyone who can reach it can use the dashboard",
              file=sys.stderr)
    print(f"Brain-tumour MRI dashboard on http://{'localhost' if ip == '127.0.0.1' else ip}:{port}/ "
          f"({os.environ.get(POOL_ENV) or POOL_SIZE} kernels preheated; Ctrl-C stops)", flush=True)
    Voila.launch_instance(argv=voila_argv(port, ip, notebook),
                          tornado_settings={"websocket_max_message_size": WS_MAX_MESSAGE_BYTES})
    return 0


def cli_dashboard(args) -> int:
    nb = config.NOTEBOOKS_DIR / "dashboard.ipynb"
    if not nb.is_file():
        print(f"error: {nb.name} not found in {config.NOTEBOOKS_DIR.name}/", file=sys.stderr)
        return 1
    return serve(port=int(getattr(args, "port", 8866)), ip=str(getattr(args, "ip", "127.0.0.1") or "127.0.0.1"))
