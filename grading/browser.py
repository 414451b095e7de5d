"""Run notebooks the way students do: a real JupyterLab server and headless Chromium driven by Selenium.

Only loopback traffic: JupyterLab listens on 127.0.0.1 with a token, Chromium runs with the background
networking features off, and the Debian chromium/chromedriver binaries are used (nothing is downloaded).
"""
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-quic", "--disable-dev-shm-usage", "--window-size=1500,1900"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyter_lab(root: Path, env: dict):
    """A JupyterLab server serving `root`; yields its base URL and token."""
    port, token = free_port(), secrets.token_hex(16)
    settings = Path(tempfile.mkdtemp(prefix="jlab-settings-"))
    # User settings: render every cell (no virtual scrolling) so that the page holds all outputs at once,
    # and no news pop-up over the notebook.
    for plugin, values in {"notebook-extension/tracker": {"windowingMode": "none"},
                           "apputils-extension/notification": {"fetchNews": "false"}}.items():
        file = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(values))
    env = dict(env, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTER_CONFIG_DIR=str(settings / "config"),
               JUPYTER_RUNTIME_DIR=str(settings / "runtime"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--expose-app-in-browser",
         "--allow-root"],
        env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"jupyter lab exited: {server.stderr.read()[-2000:]}")
                time.sleep(0.5)
        else:
            raise RuntimeError("jupyter lab did not start within 60 s")
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


@contextmanager
def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"]:
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to fetch a driver
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


# JavaScript run in the page; `window.jupyterapp` exists thanks to --expose-app-in-browser.
_KERNEL_STATE = """
const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
if (!w || !w.sessionContext || !w.sessionContext.session || !w.sessionContext.session.kernel) return null;
const prompts = [...w.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim());
return {path: w.context.path, status: w.sessionContext.session.kernel.status,
        busy: prompts.filter(p => p.includes('*')).length, ran: prompts.filter(p => /[0-9]/.test(p)).length};
"""

_OUTPUTS = """
const cells = [...window.jupyterapp.shell.currentWidget.node.querySelectorAll('.jp-Notebook .jp-Cell')];
return cells.map(c => ({
  code: c.classList.contains('jp-CodeCell'),
  ran: /[0-9]/.test((c.querySelector('.jp-InputPrompt') || {}).textContent || ''),
  images: c.querySelectorAll('.jp-OutputArea-output img').length,
  errors: [...c.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
            .map(e => e.textContent.slice(0, 500)),
  text: [...c.querySelectorAll('.jp-OutputArea-output')].map(e => e.textContent).join('\\n').slice(0, 4000),
}));
"""


def _kernel_state(driver, path: str) -> dict:
    """The state of the current notebook's kernel, or {} while the current notebook is another one (the one
    opened before `path` stays current for a moment)."""
    state = driver.execute_script(_KERNEL_STATE) or {}
    return state if state.get("path") == path else {}


def _kernel_idle_or_dialog(driver, path: str) -> bool:
    from selenium.webdriver.common.by import By
    if driver.find_elements(By.XPATH, "//dialog//button[.//div[text()='Select']]"):
        return True
    return _kernel_state(driver, path).get("status") == "idle"


def run_notebook_in_lab(driver, url: str, token: str, path: str, timeout: float = 600) -> list[dict]:
    """Open `path` (relative to the server root) in JupyterLab, run all cells from the Run menu, wait for the
    kernel to finish; return per cell: code?, ran (has an execution count)?, number of images, stderr/error
    texts, output text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{url}/lab/tree/{path}?token={token}")
    wait = WebDriverWait(driver, 120)
    wait.until(lambda d: _kernel_idle_or_dialog(d, path))
    for button in driver.find_elements(By.XPATH, "//dialog//button[.//div[text()='Select']]"):
        button.click()  # a notebook without kernelspec metadata asks which kernel to start
    wait.until(lambda d: _kernel_state(d, path).get("status") == "idle")
    # The Run menu, then "Run All Cells", as a student clicks them.
    wait.until(ec.element_to_be_clickable((By.XPATH, "//li[contains(@class,'lm-MenuBar-item')]"
                                                     "[.//div[text()='Run']]"))).click()
    wait.until(ec.element_to_be_clickable((By.XPATH, "//li[contains(@class,'lm-Menu-item')]"
                                                     "[.//div[text()='Run All Cells']]"))).click()
    time.sleep(2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _kernel_state(driver, path)
        if state.get("status") == "idle" and state.get("busy") == 0 and state.get("ran"):
            time.sleep(1)  # let the last outputs render
            if _kernel_state(driver, path).get("busy") == 0:
                return driver.execute_script(_OUTPUTS)
        time.sleep(1)
    raise TimeoutError(f"{path}: cells still running after {timeout:.0f} s")


def cjk_font_available(driver) -> bool:
    """Whether the page can draw Chinese with a real CJK font (not tofu boxes)."""
    return driver.execute_script("return document.fonts.check('16px \"Noto Sans CJK SC\"', '南京大学');")
