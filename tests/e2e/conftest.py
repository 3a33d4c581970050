"""Fixtures for the end-to-end test: a JupyterLab server and a headless Chromium driving it.

The server serves a temporary copy of `notebooks/`, so opening notebooks never writes
`.ipynb_checkpoints/`, outputs or data into the checkout (the notebooks' `../data` and `../runs`
land in the temporary folder too). Facts behind each option:
docs/architecture.md, "The browser test".

Without Chromium or Playwright the tests are skipped with a message saying how to get them,
except under CI=true, where a missing browser is an error: CI must really run them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/lib/chromium/chromium",
                       "/usr/bin/chromium-browser")
HOW_TO_GET_CHROMIUM = (
    "Install it with `sudo apt-get install -y chromium` (Debian/Ubuntu) or point "
    "PIX2PIX_CHROMIUM at a Chromium binary; the e2e test never downloads a browser."
)

# JupyterLab settings that keep the UI quiet and every cell in the DOM; autosave off so nothing
# is written back into the served notebooks while they run.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} CI must run the e2e test: .ci/run installs Chromium.")
    pytest.skip(reason)


def find_chromium() -> str | None:
    """PIX2PIX_CHROMIUM if set, else Debian's Chromium if installed."""
    configured = os.environ.get("PIX2PIX_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return next((path for path in CHROMIUM_CANDIDATES if os.access(path, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, token: str, method: str = "GET", timeout: float = 5.0):
    """(HTTP status, body bytes) of a token-authorised request to the server's API."""
    request = urllib.request.Request(url, method=method,
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read()


@dataclass(frozen=True)
class LabServer:
    url: str
    token: str
    root: Path
    log: Path

    def notebook_url(self, name: str, workspace: str) -> str:
        """`name` opened alone in a fresh named workspace (no tabs restored from earlier)."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/notebooks/{name}?token={self.token}"

    def kernel_state(self, name: str) -> str | None:
        """The execution state of the kernel of notebooks/`name`'s session, None if none yet."""
        sessions = json.loads(_request(f"{self.url}/api/sessions", self.token)[1])
        return next((session["kernel"]["execution_state"] for session in sessions
                     if session.get("path", "").endswith(name) and session.get("kernel")), None)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _write_settings(folder: Path) -> None:
    for relative, values in LAB_SETTINGS.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _stop(process: subprocess.Popen, server: LabServer) -> None:
    """Shut down through the API first (kernels live in their own sessions), then the group."""
    try:
        _request(f"{server.url}/api/shutdown", server.token, method="POST")
        process.wait(timeout=15)
    except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """JupyterLab on 127.0.0.1 (random free port, random token) over a copy of notebooks/, in
    the smoke profile on synthetic data; stopped afterwards whatever happens."""
    pytest.importorskip("jupyterlab", reason="pip install -e '.[dev]' installs JupyterLab")
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(PROJECT / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "runs", "data"))
    settings = root / "lab-settings"
    _write_settings(settings)
    port, token = _free_port(), secrets.token_hex(16)
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    env.update(PIX2PIX_PROFILE="smoke", PIX2PIX_DATASET="synthetic",
               JUPYTER_CONFIG_DIR=str(root / "jupyter-config"))
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabServerApp.user_settings_dir={settings}", "--LabApp.extension_manager=readonly",
    ]
    if os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")
    server = LabServer(f"http://127.0.0.1:{port}", token, root, root / "jupyterlab.log")
    with open(server.log, "wb") as log:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {process.returncode}:\n"
                            f"{server.log_tail()}")
            try:
                if _request(f"{server.url}/api/status", token, timeout=2)[0] == 200:
                    break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within 90 s:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        _stop(process, server)


@pytest.fixture(scope="session")
def browser_page(tmp_path_factory):
    """One page of a headless Chromium with a fresh profile (Debian's binary, no download)."""
    chromium = find_chromium()
    if chromium is None:
        _unavailable(f"Chromium not found. {HOW_TO_GET_CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed: pip install -e '.[dev]' installs it.")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=chromium,
            headless=True, args=["--disable-gpu"], viewport={"width": 1280, "height": 1000},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()
