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


# JavaScript run in the page; `window.jupyterapp` exists thanks to --expose-app-in-browser. The notebook is
# found by its path among the main area's widgets and driven through JupyterLab's own commands, so nothing
# depends on which widget has the focus (headless browsers differ there: some never focus the page).
_FIND = """
const app = window.jupyterapp;
const panel = app && [...app.shell.widgets('main')].find(w => w.context && w.context.path === arguments[0]);
"""

_OPEN = """
const app = window.jupyterapp;
if (!app) return false;
if (!window.__llmlab_restored) {  // open only once the restored layout is in place, or it may replace ours
  app.restored.then(() => { window.__llmlab_restored = true; });
  return false;
}
app.commands.execute('docmanager:open', {path: arguments[0], factory: 'Notebook'});
return true;
"""

_KERNEL_STATE = _FIND + """
const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
if (!kernel || !panel.context.isReady) return null;
return {status: kernel.status, running: window.__llmlab_run ? window.__llmlab_run.running : null,
        queued: panel.content.widgets.filter(c => c.model.type === 'code' && c.promptNode &&
                                                  c.promptNode.textContent.includes('*')).length};
"""

_RUN_ALL = _FIND + """
window.__llmlab_run = {running: true};
window.jupyterapp.commands.execute('notebook:run-all-cells', {widgetId: panel.id, activate: false})
  .finally(() => { window.__llmlab_run = {running: false}; });
"""

_OUTPUTS = _FIND + """
return panel.content.widgets.map(cell => {
  const outputs = cell.model.type === 'code' ? cell.model.outputs.toJSON() : [];
  const text = o => o.output_type === 'error' ? `${o.ename}: ${o.evalue}`
                  : [].concat(o.text || (o.data && o.data['text/plain']) || '').join('');
  return {
    code: cell.model.type === 'code',
    ran: cell.model.type === 'code' && cell.model.executionCount !== null,
    images: cell.node.querySelectorAll('.jp-OutputArea-output img').length,
    errors: outputs.filter(o => o.output_type === 'error' || (o.output_type === 'stream' && o.name === 'stderr'))
                   .map(o => text(o).slice(0, 500)),
    text: outputs.map(text).join('\\n').slice(0, 4000),
  };
});
"""


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"{what} after {timeout:.0f} s")


def run_notebook_in_lab(driver, url: str, token: str, path: str, timeout: float = 600) -> list[dict]:
    """Open `path` (relative to the server root) in JupyterLab, run all its cells (JupyterLab's "Run All Cells"
    command, as the Run menu does), wait for the kernel to finish; return per cell: code?, ran (has an
    execution count)?, number of images, error and stderr texts, output text."""
    driver.get(f"{url}/lab?token={token}")
    _wait(lambda: driver.execute_script(_OPEN, path), 120, "JupyterLab did not start")
    _wait(lambda: (driver.execute_script(_KERNEL_STATE, path) or {}).get("status") == "idle", 120,
          f"{path}: no idle kernel")
    driver.execute_script(_RUN_ALL, path)

    def finished():
        state = driver.execute_script(_KERNEL_STATE, path) or {}
        return state.get("running") is False and state.get("status") == "idle" and state.get("queued") == 0
    _wait(finished, timeout, f"{path}: cells still running")
    time.sleep(1)  # let the last outputs render
    return driver.execute_script(_OUTPUTS, path)


def scroll_to_cell(driver, path: str, index: int) -> None:
    driver.execute_script(_FIND + "panel.content.widgets[arguments[1]].node.scrollIntoView();", path, index)


def cjk_font_available(driver) -> bool:
    """Whether the page can draw Chinese with a real CJK font (not tofu boxes)."""
    return driver.execute_script("return document.fonts.check('16px \"Noto Sans CJK SC\"', '南京大学');")
