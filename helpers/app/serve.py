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

def voila_argv(port: int, ip: str = "127.0.0.1", notebook: str | Path | None = None) -> list[str]:
    """Voila's command line for the dashboard (the websocket cap is passed separately: see serve())."""
    nb = Path(notebook) if notebook else config.NOTEBOOKS_DIR / "dashboard.ipynb"
    timeout = int(os.environ.get(CELL_TIMEOUT_ENV) or 120)  # TensorFlow's import alone is ~10 s on an idle CPU
    return [str(nb), "--no-browser", f"--port={int(port)}", "--Voila.port_retries=0", f"--Voila.ip={ip}",
            "--template=lab", "--strip_sources=True", f"--VoilaExecutor.timeout={timeout}",
            "--VoilaConfiguration.show_tracebacks=False",
            # a kernel per page view; kernels of closed pages (or of plain HTTP GETs) go after 15 idle minutes
            "--MappingKernelManager.cull_idle_timeout=900", "--MappingKernelManager.cull_interval=60"]


def serve(port: int = 8866, ip: str = "127.0.0.1", notebook=None) -> int:
    """Run Voila in this process until Ctrl-C / SIGTERM (kernels are shut down on exit).

    Front-end code execution: Voila's kernel manager only forwards comm_* / kernel_info / shutdown messages from
    the browser, so an execute_request sent over the kernel websocket is dropped (tests/test_voila.py checks it).
    """
    from voila.app import Voila

    if ip not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {ip} without a token: anyone who can reach it can use the dashboard",
              file=sys.stderr)
    print(f"Brain-tumour MRI dashboard on http://{'localhost' if ip == '127.0.0.1' else ip}:{port}/ "
          "(first page load takes ~20 s: TensorFlow and the model load; Ctrl-C stops)", flush=True)
    Voila.launch_instance(argv=voila_argv(port, ip, notebook),
                          tornado_settings={"websocket_max_message_size": WS_MAX_MESSAGE_BYTES})
    return 0


def cli_dashboard(args) -> int:
    nb = config.NOTEBOOKS_DIR / "dashboard.ipynb"
    if not nb.is_file():
        print(f"error: {nb.name} not found in {config.NOTEBOOKS_DIR.name}/", file=sys.stderr)
        return 1
    return serve(port=int(getattr(args, "port", 8866)), ip=str(getattr(args, "ip", "127.0.0.1") or "127.0.0.1"))
