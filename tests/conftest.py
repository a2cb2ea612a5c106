"""Shared fixtures: an isolated cache folder and a loopback HTTP server for download tests."""
from __future__ import annotations

import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# tools/ (the build-time scripts that made datasets/) is importable by the tests: `from tools.build_x import ...`
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# Tests that import ultralytics directly must not reach for the network (its online check at import) nor
# write settings into the user's home: the same variables coursekit.models.yolo.offline_ultralytics sets.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="coursekit-tests-ultralytics-"))


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh COURSEKIT_HOME for one test, never the learner's real cache."""
    h = tmp_path / "ckhome"
    monkeypatch.setenv("COURSEKIT_HOME", str(h))
    monkeypatch.delenv("COURSEKIT_OFFLINE", raising=False)
    return h


class _Files(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    ranges = True
    seen: list = []
    cut_next = 0  # >0: the next response announces the full length but sends only this many bytes

    def do_GET(self):  # noqa: N802 - http.server's naming
        data = self.files.get(self.path)
        self.seen.append((self.path, self.headers.get("Range")))
        if data is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        if rng and self.ranges:
            start = int(rng.split("=")[1].split("-")[0])
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if type(self).cut_next:  # a connection that drops mid-download
            body, type(self).cut_next = body[: type(self).cut_next], 0
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def http_files():
    """Serve a dict path -> bytes on 127.0.0.1; yields (base_url, handler_class)."""
    handler = type("Handler", (_Files,), {"files": {}, "seen": [], "ranges": True, "cut_next": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


# make test runs on two pytest-xdist workers. pytest-xdist's own grouping (`--dist loadgroup`) silently stops
# grouping on pytest 9.2 (pytest-dev/pytest-xdist#1386), so the scheduler below says what stays together: each
# notebook is one unit (its cells in order, on one worker, in one kernel), notebooks 03 -> 05 are one unit because
# 04 and 05 read what 03 wrote under runs/ (its best.pt), and every test file or module's doctests is one unit.
# (Notebook 04 also draws 02's labels curve when it finds it; 02 writes it whole, and nothing asserts on it.)
# The notebooks go first in the queue, longest first.
NOTEBOOK_CHAIN = ("03_train_yolo_detector", "04_foundation_models_zero_shot", "05_deploy_to_the_edge")
FIRST = "02_finetune_pretrained"


def _unit_of(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return "notebooks 03 -> 05" if path.endswith(".ipynb") and Path(path).stem in NOTEBOOK_CHAIN else path


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class CourseScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit_of(nodeid)

    return CourseScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    # a stable sort: notebook 02, the chain, the other notebooks by name, then everything else
    def rank(item):
        path = item.nodeid.split("::", 1)[0]
        if not path.endswith(".ipynb"):
            return 3
        return 0 if Path(path).stem == FIRST else 1 if _unit_of(item.nodeid) != path else 2

    items.sort(key=rank)
