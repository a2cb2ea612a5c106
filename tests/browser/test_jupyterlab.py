"""The course as a learner opens it: `make lab` (non-blocking, with a token), headless Chromium driven by
Selenium through JupyterLab's own UI, notebook 01's first cells run with Shift+Enter; the settings printout
and the class grid picture must appear. A screenshot is kept as the test's artefact.

Run with `make test-browser` (what .ci/run does after `make test`). It needs Debian's `chromium` and
`chromium-driver` (`apt-get install chromium chromium-driver`): no browser is downloaded at test time.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("COURSEKIT_ARTIFACTS", ROOT / ".ci" / "artifacts"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
NOTEBOOK = ROOT / "notebooks" / "01_cnn_from_scratch.ipynb"


def _cells_to_run() -> int:
    """Every cell of notebook 01 up to and including the class grid (its first picture)."""
    import json

    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return next(i for i, c in enumerate(cells) if "show_class_grid(" in "".join(c["source"])) + 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.fail("headless Chromium is missing: apt-get install chromium chromium-driver (Debian), then rerun")
    # A copy of the notebooks: JupyterLab autosaves what runs, and the checkout must stay as committed.
    course = tmp_path_factory.mktemp("learner") / "notebooks"
    shutil.copytree(ROOT / "notebooks", course, ignore=shutil.ignore_patterns("runs", ".ipynb_checkpoints"))
    port, token = _free_port(), "coursekit-browser-test"
    env = {**os.environ, "COURSEKIT_PROFILE": "smoke", "COURSEKIT_OFFLINE": "1",
           "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("jupyter-runtime"))}
    args = f"--no-browser --port={port} --ServerApp.token={token} --ServerApp.ip=127.0.0.1"
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_DIR={course}", f"LAB_ARGS={args}"],
                            cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
        if proc.poll() is not None:
            pytest.fail(f"make lab exited with {proc.returncode}: {proc.stdout.read().decode()[-2000:]}")
    else:
        os.killpg(proc.pid, signal.SIGTERM)
        pytest.fail("JupyterLab did not answer within 120 s")
    before = (ROOT / "notebooks" / "01_cnn_from_scratch.ipynb").read_bytes()
    yield url, token
    assert (ROOT / "notebooks" / "01_cnn_from_scratch.ipynb").read_bytes() == before, "the checkout's notebook changed"
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_notebook_01_runs_its_first_cells_in_jupyterlab(lab, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from selenium.common.exceptions import StaleElementReferenceException

    def text(css: str) -> str:  # the page re-renders while cells run: a vanished element reads as ""
        try:
            return " ".join(e.text for e in browser.find_elements(By.CSS_SELECTOR, css))
        except StaleElementReferenceException:
            return ""

    url, token = lab
    browser.get(f"{url}/lab/tree/01_cnn_from_scratch.ipynb?token={token}")
    wait = WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        wait.until(lambda d: "Idle" in text("#jp-main-statusbar"))   # the kernel has started
    except Exception:
        browser.save_screenshot(str(ARTIFACTS / "jupyterlab-notebook-01.png"))
        (ARTIFACTS / "jupyterlab-notebook-01.txt").write_text(text("body"))
        raise
    browser.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")[0].click()
    run = browser.find_element(By.CSS_SELECTOR, ".jp-NotebookPanel-toolbar [data-command='notebook:run-cell-and-select-next']")
    for _ in range(_cells_to_run()):     # the toolbar's "Run this cell and advance" button (Shift+Enter)
        run.click()
        time.sleep(0.5)
    try:
        wait.until(lambda d: "Settings(profile='smoke'" in text(".jp-OutputArea-output"))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img"))
        assert "on the CPU" in text(".jp-OutputArea-output"), "the settings printout says which device runs and what the notebook costs"
        img = browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")[0]
        assert img.size["width"] > 200 and img.size["height"] > 100, img.size  # the class grid, drawn
        assert not browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type*='error']")
    finally:
        browser.save_screenshot(str(ARTIFACTS / "jupyterlab-notebook-01.png"))
