"""JupyterHub for a coursekit workshop: about 30 learners on one server (see classroom/README.md).

    sudo CLASSROOM_PASSWORD=... jupyterhub -f classroom/jupyterhub_config.py

- Login: ``SharedPasswordAuthenticator`` (JupyterHub >= 5; it replaces a DummyAuthenticator with a password):
  each learner types their learner name (``learner01`` ...) and the room's password written on the board.
  Why: a three-hour workshop has no time for thirty password resets; the names are the system users that
  ``create_learners.sh`` made, and only those may log in (``allowed_users``). The cost: anyone with the room
  password can log in as any learner, so use it only on the workshop's network, for the workshop. For a
  longer course set ``CLASSROOM_AUTH=pam``: each learner logs in with the password ``create_learners.sh
  --passwords`` gave them (PAM, the system users' own passwords).
- Spawner: each learner's server runs as their own system user (``LocalProcessSpawner``), so the operating
  system keeps learners apart: homes are 0700, the shared course cache is root's and read-only.
- First start: :func:`copy_course` (``pre_spawn_hook``) copies the course's notebooks into ``~/course``,
  owned by the learner; later starts keep the learner's edits.
- Shared cache: ``COURSEKIT_HOME=/srv/coursekit-cache``, filled once by ``coursekit fetch --all`` (root-owned,
  0755). coursekit never writes there: every write goes to the learner's ``~/.cache/coursekit-work``.
- Limits (``CLASSROOM_MEM``, ``CLASSROOM_CPUS``): LocalProcessSpawner treats ``mem_limit`` / ``cpu_limit``
  as hints only, so :class:`ClassroomSpawner` enforces them itself, per process, with what needs no systemd:
  ``RLIMIT_DATA`` (heap + anonymous memory of the server and of every kernel it starts; a kernel past it
  gets MemoryError, the server survives) and CPU affinity (each learner pinned to ``CLASSROOM_CPUS`` cores,
  learners spread round-robin over the machine's cores). The gap: the memory limit is per process, not a
  sum over one learner's kernels, and GPU memory is not limited at all. For a hard per-learner total use
  ``jupyterhub-systemdspawner`` (``CLASSROOM_SPAWNER=systemd``: systemd's MemoryMax / CPUQuota on a
  server whose PID 1 is systemd); that path is not tested by the course's CI.

Every setting can be changed by an environment variable (the test, tests/test_classroom.py, uses them to run
the hub on localhost with throw-away users); the defaults are the workshop's.
"""
import os
import pwd
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - JupyterHub's config loader provides get_config

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
env = os.environ.get

CACHE = env("COURSEKIT_HOME", "/srv/coursekit-cache")
NOTEBOOKS = Path(env("CLASSROOM_NOTEBOOKS", str(REPO / "notebooks")))
STATE = Path(env("CLASSROOM_STATE", "/srv/jupyterhub"))
PYTHON_BIN = Path(env("CLASSROOM_PYTHON_BIN", str(Path(sys.executable).parent)))
LEARNERS = [u for u in env("CLASSROOM_LEARNERS", ",".join(f"learner{i:02d}" for i in range(1, 31))).split(",") if u]
INSTRUCTOR = env("CLASSROOM_INSTRUCTOR", "")
MEM = env("CLASSROOM_MEM", "6G")  # per process (see the module docstring); 30 learners x 6G needs 180 GB to be safe
CPUS = float(env("CLASSROOM_CPUS", "2"))
COURSE_DIR = "course"  # ~/course: the learner's own copy of the notebooks

# --- the hub, on one machine -------------------------------------------------------------------------------
c.JupyterHub.bind_url = env("CLASSROOM_URL", "http://0.0.0.0:8000")
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env("CLASSROOM_HUB_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('CLASSROOM_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [env("CLASSROOM_PROXY", str(HERE / "node_modules" / ".bin" / "configurable-http-proxy"))]
STATE.mkdir(parents=True, exist_ok=True, mode=0o700)
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server
c.JupyterHub.concurrent_spawn_limit = 10  # thirty learners pressing "start" at 9:00 sharp: ten at a time
c.JupyterHub.shutdown_on_logout = False

# --- who may log in -------------------------------------------------------------------------------------
c.Authenticator.allowed_users = set(LEARNERS)
if INSTRUCTOR:
    c.Authenticator.admin_users = {INSTRUCTOR}
if env("CLASSROOM_AUTH", "shared") == "pam":
    c.JupyterHub.authenticator_class = "pam"
else:
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = env("CLASSROOM_PASSWORD", "")
    if env("CLASSROOM_ADMIN_PASSWORD"):
        c.SharedPasswordAuthenticator.admin_password = env("CLASSROOM_ADMIN_PASSWORD")
    if not c.SharedPasswordAuthenticator.user_password:
        sys.exit("classroom: set CLASSROOM_PASSWORD (at least 8 characters; the room's password), "
                 "or CLASSROOM_AUTH=pam for the learners' own system passwords")

# A service token for health checks (and tests/test_classroom.py): start, stop and reach learners' servers.
if env("CLASSROOM_CHECK_TOKEN"):
    c.JupyterHub.services = [{"name": "classroom-check", "api_token": env("CLASSROOM_CHECK_TOKEN")}]
    c.JupyterHub.load_roles = [{"name": "classroom-check", "services": ["classroom-check"],
                                "scopes": ["admin:users", "admin:servers", "access:servers", "read:users"]}]


# --- each learner's server ------------------------------------------------------------------------------
def copy_course(spawner) -> None:
    """First start: copy the notebooks into ``~/course``, owned by the learner (u+rwX, nothing for others).
    Later starts leave ``~/course`` alone (the learner's edits stay); a deleted ``~/course`` is copied again."""
    user = pwd.getpwnam(spawner.user.name)
    home = Path(user.pw_dir)
    home.chmod(0o700)  # one learner cannot open another's files
    dest = home / COURSE_DIR
    if dest.exists():
        return
    tmp = home / f".{COURSE_DIR}.copying"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(NOTEBOOKS, tmp, ignore=shutil.ignore_patterns("runs", "checkpoints", "outputs", ".ipynb_checkpoints"))
    for root, dirs, files in os.walk(tmp):
        for name in [*dirs, *files, ""]:
            path = os.path.join(root, name) if name else root
            os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
            if not os.path.islink(path):
                os.chmod(path, 0o700 if os.path.isdir(path) else 0o600)
    tmp.rename(dest)


def learner_cores(name: str, cores: list[int] | None = None, per_learner: float = CPUS) -> set[int]:
    """The cores a learner's server is pinned to: ``per_learner`` consecutive cores (at least one) of those the
    hub may use, learners spread round-robin so neighbours in the list do not share a core when there are enough.

    >>> sorted(learner_cores(LEARNERS[1], cores=[0, 1, 2, 3], per_learner=2))
    [2, 3]
    """
    cores = sorted(cores if cores is not None else os.sched_getaffinity(0))
    n = max(1, min(len(cores), int(per_learner)))
    index = LEARNERS.index(name) if name in LEARNERS else sum(map(ord, name))
    start = index * n
    return {cores[(start + k) % len(cores)] for k in range(n)}


from jupyterhub.spawner import LocalProcessSpawner  # noqa: E402


class ClassroomSpawner(LocalProcessSpawner):
    """LocalProcessSpawner that enforces ``mem_limit`` (RLIMIT_DATA) and ``cpu_limit`` (CPU affinity) on the
    learner's server and the kernels it starts, set before the server drops to the learner's user."""

    def make_preexec_fn(self, name):
        drop_to_user = super().make_preexec_fn(name)
        mem = int(self.mem_limit or 0)
        cores = learner_cores(name, per_learner=self.cpu_limit or CPUS) if self.cpu_limit else None

        def preexec():
            import resource

            if mem:
                resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
            if cores:
                os.sched_setaffinity(0, cores)
            drop_to_user()

        return preexec


if env("CLASSROOM_SPAWNER") == "systemd":  # pip install jupyterhub-systemdspawner; systemd enforces the limits
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
    c.SystemdSpawner.unit_name_template = "coursekit-{USERNAME}"
else:
    c.JupyterHub.spawner_class = ClassroomSpawner
c.Spawner.pre_spawn_hook = copy_course
c.Spawner.mem_limit = MEM
c.Spawner.cpu_limit = CPUS
c.Spawner.cmd = [str(PYTHON_BIN / "jupyterhub-singleuser")]
c.Spawner.notebook_dir = f"~/{COURSE_DIR}"
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120  # thirty servers importing torch at once
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    "COURSEKIT_HOME": CACHE,  # shared and read-only: coursekit reads it, never writes it
    "COURSEKIT_OFFLINE": env("COURSEKIT_OFFLINE", "1"),  # the instructor fetched everything: no 30 downloads
    "COURSEKIT_PROFILE": env("COURSEKIT_PROFILE", "full"),
    **({"PYTHONPATH": env("CLASSROOM_PYTHONPATH")} if env("CLASSROOM_PYTHONPATH") else {}),
}
