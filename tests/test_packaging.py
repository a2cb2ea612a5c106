"""The setup contract: pyproject, environment.yml and the pinned constraints agree; the two commands exist."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    """'open_clip_torch>=2.26' -> 'open-clip-torch' (PEP 503 normalised)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", req.strip(), maxsplit=1)[0]).lower()


# Extras for the instructor's server only (classroom/): pinned like the rest, but not in a learner's environment.yml.
SERVER_EXTRAS = ("classroom",)


def _pyproject_names(server_extras: bool = True) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for name, extra in project.get("optional-dependencies", {}).items():
        if server_extras or name not in SERVER_EXTRAS:
            reqs += extra
    return {_name(r) for r in reqs}


def _conda_pip_names() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {_name(r) for r in pip_section if not r.startswith("-")}


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            assert "+" not in version, f"constraints.txt: {line!r} carries a local version label"
            pins[_name(name)] = version
    return pins


def test_environment_yml_matches_pyproject():
    py, conda = _pyproject_names(server_extras=False), _conda_pip_names()
    assert py == conda, f"only in pyproject: {sorted(py - conda)}; only in environment.yml: {sorted(conda - py)}"


def test_environment_yml_uses_the_constraints_and_installs_coursekit():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-c requirements/constraints.txt" in pip_section and "-e ." in pip_section


def test_every_dependency_is_pinned():
    pins = _constraints()
    missing = _pyproject_names() - set(pins)
    assert not missing, f"not pinned in requirements/constraints.txt: {sorted(missing)} (run `make lock`)"
    # torch and torchvision must be a matching pair, never the bare CPU wheel 2.13.0 (no torchvision ops)
    assert pins["torch"] != "2.13.0"
    torch_minor, tv_minor = int(pins["torch"].split(".")[1]), int(pins["torchvision"].split(".")[1])
    assert tv_minor == torch_minor + 15, f"torch {pins['torch']} and torchvision {pins['torchvision']} do not pair"


def test_two_commands_are_documented_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "--nbval" in makefile and "COURSEKIT_PROFILE=smoke" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_public_api_is_importable():
    import coursekit

    for name in coursekit.__all__:
        assert hasattr(coursekit, name), f"coursekit.__all__ lists {name!r} but it is not importable"


def test_no_public_name_is_both_a_function_and_a_submodule(tmp_path):
    """Importing a submodule sets it as an attribute of the package: a function of the same name (ck.evaluate
    was train.evaluate and the module coursekit.evaluate) turns into the module once another cell imports it.
    In a fresh process: every public name, read again after every submodule has been imported, is the same
    object it was before."""
    import subprocess
    import sys

    code = """
import importlib, pkgutil, types
import coursekit as ck
first = {n: getattr(ck, n) for n in ck.__all__}
for m in pkgutil.walk_packages(ck.__path__, "coursekit."):
    importlib.import_module(m.name)
changed = [n for n in ck.__all__ if getattr(ck, n) is not first[n]]
clash = [n for n in ck.__all__ if not isinstance(first[n], types.ModuleType)
         and importlib.util.find_spec("coursekit." + n) is not None]
assert not changed and not clash, (changed, clash)
ck.evaluate_classifications  # what notebook 02 calls before re-running an earlier cell
assert callable(ck.evaluate) and not isinstance(ck.evaluate, types.ModuleType), ck.evaluate
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


# What the code uses -> the first release that has it (checked against the code, so that a lower bound
# in pyproject.toml cannot drift below what the code needs without this test failing).
FEATURE_MINIMUMS = [
    # (package, minimum, file, text the code contains, what it is)
    ("open-clip-torch", (3, 0), "coursekit/models/clip.py", "weights_only=True",
     "open_clip.create_model_and_transforms(weights_only=...) (open_clip 3.0; 2.x passes it to the model)"),
    ("python", (3, 11, 4), "coursekit/assets.py", 'filter="data"',
     "tarfile's extraction filters (Python 3.11.4, PEP 706)"),
]


def _lower_bound(spec: str) -> tuple[int, ...]:
    m = re.search(r">=\s*([0-9][0-9.]*)", spec)
    assert m, f"{spec!r} has no lower bound"
    return tuple(int(x) for x in m.group(1).split("."))


def test_lower_bounds_cover_the_features_the_code_uses():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds = {_name(r): _lower_bound(r) for r in project["dependencies"]}
    bounds["python"] = _lower_bound(project["requires-python"])
    for package, minimum, path, text, what in FEATURE_MINIMUMS:
        if text not in (ROOT / path).read_text():
            continue  # the code no longer uses it: the bound may go down
        assert bounds[package] >= minimum, (f"{path} uses {what}: pyproject.toml must require {package} >= "
                                            f"{'.'.join(map(str, minimum))}, not {'.'.join(map(str, bounds[package]))}")


def test_the_makefile_checks_the_same_python_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    version = ".".join(map(str, _lower_bound(project["requires-python"])))
    assert f"({version.replace('.', ', ')})" in (ROOT / "Makefile").read_text(), version


def test_readme_measurement_tables_are_rendered_from_the_committed_json():
    """README's measured tables come from notebooks/measured/*.json through tools/render_measurements.py."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(ROOT / "tools" / "render_measurements.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "<!-- measured:real-path-cpu -->" in (ROOT / "README.md").read_text()


# --- build time and run time: tools/ builds what ships, coursekit loads it ---------------------------------------

#: Names of the build-time code that moved to tools/ (stand-in trainers, dataset builders): never in coursekit.
BUILD_TIME_NAME = re.compile(r"^(build|train|pretrain)_\w*(standin|dataset|sample)$")
#: The only modules of coursekit that may run as a script: the `coursekit` command and the run.py that
#: notebook 05 copies into its deployment package.
SCRIPTS = {"coursekit/cli.py", "coursekit/deploy/run_template.py",
           "coursekit/deploy/footprint.py"}  # the child process that measures one backend in isolation


def _runtime_sources():
    return sorted(p for p in (ROOT / "coursekit").rglob("*.py"))


def test_the_runtime_package_imports_no_build_tool(tmp_path):
    """In a fresh process with tools/ importable: importing every coursekit module imports no tools module."""
    import os
    import subprocess
    import sys

    code = """
import importlib, pkgutil, sys
import coursekit as ck
for m in pkgutil.walk_packages(ck.__path__, "coursekit."):
    importlib.import_module(m.name)
build = sorted(n for n in sys.modules if n == "tools" or n.startswith("tools."))
assert not build, build
print("ok")
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


def test_no_build_time_code_is_left_in_the_package():
    """Read the source (imports inside functions too, which importing alone would not run): no import of
    tools, no function or class named like a stand-in trainer or dataset builder, no `main()` or `__main__`
    script outside :data:`SCRIPTS`."""
    import ast

    problems = []
    for path in _runtime_sources():
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
            else:
                names = []
            problems += [f"{rel}:{node.lineno} imports {n}" for n in names if n == "tools" or n.startswith("tools.")]
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and BUILD_TIME_NAME.match(node.name):
                problems.append(f"{rel}:{node.lineno} defines {node.name} (build-time: tools/)")
            if rel not in SCRIPTS and isinstance(node, ast.FunctionDef) and node.name == "main":
                problems.append(f"{rel}:{node.lineno} defines main() (a build CLI belongs in tools/)")
            if (rel not in SCRIPTS and isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                    and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"):
                problems.append(f"{rel}:{node.lineno} runs as a script (a build CLI belongs in tools/)")
    assert not problems, "\n".join(problems)


def test_every_shipped_artefact_names_its_builder_in_tools():
    """Each datasets/<name>/manifest.json names the tools/ function that made it (``generator`` or ``made_by``),
    and that module is a script (``main``); the runtime hints (``python -m tools.build_x``) name it too."""
    import importlib

    found = {}
    for manifest in sorted((ROOT / "datasets").glob("*/manifest.json")):
        m = json.loads(manifest.read_text(encoding="utf-8"))
        dotted = (m.get("generator") or m.get("made_by") or "").split(" ")[0]
        module, _, func = dotted.rpartition(".")
        assert module.startswith("tools.build_"), f"{manifest}: made by {dotted!r}, not by a tools/build_* script"
        mod = importlib.import_module(module)
        assert callable(getattr(mod, func, None)) and callable(getattr(mod, "main", None)), dotted
        found[manifest.parent.name] = module
    assert len(found) == 6, found
    hints = "".join(p.read_text(encoding="utf-8") for p in _runtime_sources())
    for module in set(found.values()):
        assert f"python -m {module}" in hints, f"no runtime error message tells how to rebuild with {module}"
