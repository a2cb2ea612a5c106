"""The classroom set-up (classroom/): JupyterHub on localhost with two real system users, each server started,
both reading the shared read-only course cache, neither able to write it, neither able to open the other's
files; then everything stopped and the users deleted. Run with ``make test-classroom`` (as root: it creates
system users; it needs the ``classroom`` extra and ``npm ci --prefix classroom``).

Environment: ``CLASSROOM_PYTHON_BIN``, a bin folder of a Python with jupyterhub + coursekit that the test users
may execute (default: this interpreter's); ``CLASSROOM_PROXY``, configurable-http-proxy (default:
classroom/node_modules/.bin, else PATH).
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.classroom]

ROOT = Path(__file__).resolve().parents[1]
CLASSROOM = ROOT / "classroom"
CONFIG = CLASSROOM / "jupyterhub_config.py"
USERS = ("cktalice", "cktbob")  # throw-away system users, deleted at the end


def _require_root():
    if os.geteuid() != 0:
        pytest.fail("tests/test_classroom.py must run as root: it creates two system users (useradd) so the "
                    "hub can run each learner as their own user. Run `sudo make test-classroom`.")


def _proxy() -> str:
    for candidate in (os.environ.get("CLASSROOM_PROXY"), CLASSROOM / "node_modules" / ".bin" / "configurable-http-proxy",
                      shutil.which("configurable-http-proxy")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail("configurable-http-proxy not found: run `npm ci --prefix classroom` (or set CLASSROOM_PROXY)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(url: str, token: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if text.strip() else None)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def _remove_user(name: str) -> None:
    if subprocess.run(["id", name], capture_output=True).returncode != 0:
        return
    pids = subprocess.run(["ps", "-u", name, "-o", "pid="], capture_output=True, text=True).stdout.split()
    for pid in pids:  # processes a crashed run left behind, by id
        try:
            os.kill(int(pid), 9)
        except (ProcessLookupError, ValueError):
            pass
    subprocess.run(["userdel", "-r", name], capture_output=True)


# The code each learner's kernel runs: what a learner's notebook can and cannot do.
PROBE = r'''
import json, os, pwd, resource
from pathlib import Path
r = {"user": pwd.getpwuid(os.getuid()).pw_name}
cache = Path(os.environ["COURSEKIT_HOME"])
r["read"] = (cache / "assets" / "probe" / "shared.txt").read_text().strip()
try:
    (cache / f"written-by-{r['user']}").write_text("x"); r["write"] = "written"
except OSError as err:
    r["write"] = type(err).__name__
try:
    (cache / "assets" / "probe" / "shared.txt").write_text("x"); r["overwrite"] = "written"
except OSError as err:
    r["overwrite"] = type(err).__name__
try:
    r["other"] = Path(OTHER).read_text()[:20]
except OSError as err:
    r["other"] = type(err).__name__
from coursekit.config import cache_is_shared, writable_home
from coursekit.cli import cache_rows
r["shared"], r["writes_to"], r["doctor"] = cache_is_shared(), str(writable_home()), cache_rows()
(writable_home() / "probe").mkdir(parents=True, exist_ok=True)
r["rlimit_data"], r["cores"] = resource.getrlimit(resource.RLIMIT_DATA)[0], sorted(os.sched_getaffinity(0))
r["cwd"] = os.getcwd()
print("RESULT" + json.dumps(r))
'''


async def _execute(base_ws: str, token: str, code: str, timeout: float = 180) -> str:
    """Run ``code`` in a kernel over the Jupyter websocket protocol; return its stdout (raise on an error)."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(HTTPRequest(base_ws, headers={"Authorization": f"token {token}"}))
    msg_id = uuid.uuid4().hex
    conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex,
                   "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    out, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            raw = await asyncio.wait_for(conn.read_message(), deadline - time.monotonic())
            if raw is None:
                raise RuntimeError("the kernel's websocket closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                raise RuntimeError("kernel error: " + "\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
        raise TimeoutError(f"no answer from the kernel in {timeout:.0f} s; output so far: {''.join(out)}")
    finally:
        conn.close()


@pytest.fixture
def classroom():
    """Two learners, a shared root-owned read-only cache, the hub running; everything removed afterwards."""
    _require_root()
    if subprocess.run([sys.executable, "-c", "import jupyterhub"], capture_output=True).returncode:
        pytest.fail("jupyterhub is not installed: pip install -e '.[classroom]' (make test-classroom does)")
    proxy = _proxy()
    py_bin = Path(os.environ.get("CLASSROOM_PYTHON_BIN", Path(sys.executable).parent))
    top = Path(tempfile.mkdtemp(prefix="coursekit-classroom-", dir="/tmp"))
    top.chmod(0o755)
    cache, state = top / "cache", top / "state"
    (cache / "assets" / "probe").mkdir(parents=True)
    (cache / "assets" / "probe" / "shared.txt").write_text("filled once by the instructor\n")
    for p in (cache, cache / "assets", cache / "assets" / "probe"):
        p.chmod(0o755)
    (cache / "assets" / "probe" / "shared.txt").chmod(0o644)
    for name in USERS:
        _remove_user(name)
    subprocess.run([str(CLASSROOM / "create_learners.sh"), "--names", ",".join(USERS)], check=True)
    hub = log = None
    try:
        check = subprocess.run(["runuser", "-u", USERS[0], "--", str(py_bin / "python"), "-c",
                                "import jupyterhub.singleuser, coursekit"], capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd="/")
        if check.returncode:
            pytest.fail(f"a learner cannot run {py_bin / 'python'} with jupyterhub and coursekit "
                        f"({check.stderr.strip()[-300:]}); set CLASSROOM_PYTHON_BIN to a Python environment that "
                        "other users can read (a Python under /root is not)")
        port, token = _free_port(), uuid.uuid4().hex
        env = {**os.environ, "COURSEKIT_HOME": str(cache), "CLASSROOM_STATE": str(state),
               "CLASSROOM_LEARNERS": ",".join(USERS), "CLASSROOM_PASSWORD": uuid.uuid4().hex,
               "CLASSROOM_CHECK_TOKEN": token, "CLASSROOM_URL": f"http://127.0.0.1:{port}",
               "CLASSROOM_HUB_PORT": str(_free_port()), "CLASSROOM_PROXY_API_PORT": str(_free_port()),
               "CLASSROOM_PROXY": proxy, "CLASSROOM_PYTHON_BIN": str(py_bin), "CLASSROOM_PYTHONPATH": str(ROOT),
               "CLASSROOM_MEM": "3G", "CLASSROOM_CPUS": "1", "COURSEKIT_PROFILE": "smoke"}
        log = open(top / "hub.log", "w")
        hub = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)], cwd=top,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            if hub.poll() is not None:
                pytest.fail(f"the hub exited with {hub.returncode}:\n{(top / 'hub.log').read_text()[-3000:]}")
            try:
                if _api(f"{url}/hub/api/", token)[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(1)
        else:
            pytest.fail(f"the hub did not answer in 120 s:\n{(top / 'hub.log').read_text()[-3000:]}")
        yield {"url": url, "token": token, "cache": cache, "top": top}
    finally:
        if hub is not None:
            for name in USERS:
                try:
                    _api(f"http://127.0.0.1:{port}/hub/api/users/{name}/server", token, "DELETE")
                except Exception:  # noqa: BLE001 - best effort; the hub's cleanup_servers stops them too
                    pass
            hub.terminate()
            try:
                hub.wait(60)
            except subprocess.TimeoutExpired:
                hub.kill()
                hub.wait()
        if log is not None:
            log.close()
            print((top / "hub.log").read_text()[-4000:])
        for name in USERS:
            _remove_user(name)
        shutil.rmtree(top, ignore_errors=True)


def _wait_ready(url: str, token: str, name: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, user = _api(f"{url}/hub/api/users/{name}", token)
        assert status == 200, user
        server = (user.get("servers") or {}).get("")
        if server and server.get("ready"):
            return
        time.sleep(1)
    pytest.fail(f"{name}'s server was not ready in {timeout:.0f} s")


def test_two_learners_share_a_read_only_cache_and_nothing_else(classroom):
    url, token, cache = classroom["url"], classroom["token"], classroom["cache"]
    t0 = time.perf_counter()
    for name in USERS:  # start both, then wait: they start side by side, as in a classroom
        status, body = _api(f"{url}/hub/api/users/{name}/server", token, "POST", {})
        assert status in (201, 202), f"starting {name}'s server: {status} {body}"
    for name in USERS:
        _wait_ready(url, token, name)
    print(f"both servers ready in {time.perf_counter() - t0:.1f} s")

    import pwd

    results = {}
    for name, other in zip(USERS, reversed(USERS)):
        home = Path(pwd.getpwnam(name).pw_dir)
        course = home / "course"
        # the pre-spawn hook: the learner's own copy of every notebook, theirs alone
        assert sorted(p.name for p in course.glob("*.ipynb")) == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
        st = course.stat()
        assert (st.st_uid, oct(st.st_mode & 0o777)) == (pwd.getpwnam(name).pw_uid, "0o700")
        assert oct(home.stat().st_mode & 0o777) == "0o700"
        status, listing = _api(f"{url}/user/{name}/api/contents/", token)
        assert status == 200 and any(i["name"] == "01_cnn_from_scratch.ipynb" for i in listing["content"]), listing

        status, kernel = _api(f"{url}/user/{name}/api/kernels", token, "POST", {"name": "python3"})
        assert status == 201, kernel
        ws = f"{url.replace('http', 'ws', 1)}/user/{name}/api/kernels/{kernel['id']}/channels"
        other_file = Path(pwd.getpwnam(other).pw_dir) / "course" / "01_cnn_from_scratch.ipynb"
        out = asyncio.run(_execute(ws, token, f"OTHER = {str(other_file)!r}\n" + PROBE))
        results[name] = json.loads(out.split("RESULT", 1)[1])
        _api(f"{url}/user/{name}/api/kernels/{kernel['id']}", token, "DELETE")

    cores = []
    for name, r in results.items():
        home = pwd.getpwnam(name).pw_dir
        assert r["user"] == name, r  # the kernel runs as the learner, not as root
        assert r["read"] == "filled once by the instructor", r  # both read the shared cache
        assert r["write"] == "PermissionError" and r["overwrite"] == "PermissionError", r  # neither writes it
        assert r["other"] == "PermissionError", r  # nor opens the other learner's files
        assert r["shared"] is True and r["writes_to"] == f"{home}/.cache/coursekit-work", r
        assert "read-only (shared course cache)" in r["doctor"][0][1] and r["writes_to"] in r["doctor"][0][1], r
        assert Path(r["writes_to"], "probe").is_dir()  # a write the course makes lands in the learner's folder
        assert r["rlimit_data"] == 3 * 1024**3, r  # CLASSROOM_MEM=3G, enforced
        assert len(r["cores"]) == 1, r  # CLASSROOM_CPUS=1, enforced
        assert r["cwd"].startswith(home), r
        cores.append(r["cores"][0])
    if len(os.sched_getaffinity(0)) > 1:
        assert cores[0] != cores[1], "the two learners were pinned to the same core"
    assert sorted(p.name for p in cache.rglob("*")) == ["assets", "probe", "shared.txt"]  # nothing written there
    assert (cache / "assets" / "probe" / "shared.txt").read_text() == "filled once by the instructor\n"


def _load_config(monkeypatch, tmp_path, **env):
    if subprocess.run([sys.executable, "-c", "import jupyterhub"], capture_output=True).returncode:
        pytest.fail("jupyterhub is not installed: pip install -e '.[classroom]' (make test-classroom does)")
    from traitlets.config.loader import PyFileConfigLoader

    for name in [n for n in os.environ if n.startswith("CLASSROOM_")] + ["COURSEKIT_HOME"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLASSROOM_STATE", str(tmp_path / "state"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return PyFileConfigLoader(CONFIG.name, path=str(CLASSROOM)).load_config()


def test_the_config_loads_with_the_workshop_defaults(monkeypatch, tmp_path):
    cfg = _load_config(monkeypatch, tmp_path, CLASSROOM_PASSWORD="room-password-1")
    assert cfg.JupyterHub.authenticator_class == "shared-password"
    assert cfg.Authenticator.allowed_users == {f"learner{i:02d}" for i in range(1, 31)}
    assert cfg.JupyterHub.spawner_class.__name__ == "ClassroomSpawner"
    assert cfg.Spawner.pre_spawn_hook.__name__ == "copy_course"
    assert (cfg.Spawner.mem_limit, cfg.Spawner.cpu_limit) == ("6G", 2.0)
    assert cfg.Spawner.environment["COURSEKIT_HOME"] == "/srv/coursekit-cache"
    assert cfg.Spawner.environment["COURSEKIT_OFFLINE"] == "1"
    assert cfg.Spawner.notebook_dir == "~/course"
    assert "services" not in cfg.JupyterHub or not cfg.JupyterHub.services.to_dict()  # no service token unless CLASSROOM_CHECK_TOKEN asks for one
    pam = _load_config(monkeypatch, tmp_path, CLASSROOM_AUTH="pam")
    assert pam.JupyterHub.authenticator_class == "pam"


def test_the_config_refuses_to_start_without_a_room_password(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="CLASSROOM_PASSWORD"):
        _load_config(monkeypatch, tmp_path)
