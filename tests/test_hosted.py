"""The first code cell of every notebook installs the course only on a hosted notebook (Colab, Kaggle) and says
which GPU it got; anywhere else it runs nothing. Its logic is run here with the hosted environment faked."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))


def _hosted_cell(path: Path) -> str:
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    assert "hosted-setup" in cells[0]["metadata"].get("tags", []), f"{path.name}: the first code cell is the hosted setup"
    return "".join(cells[0]["source"])


def test_every_notebook_has_the_same_hosted_cell_first():
    sources = {p.name: _hosted_cell(p) for p in NOTEBOOKS}
    assert len(set(sources.values())) == 1, "the hosted cells differ between notebooks"


def _run(monkeypatch, tmp_path, env: dict, gpu: str | None, modules=(), source: str | None = None):
    calls = []

    def fake_run(args, **kwargs):
        calls.append(list(args))
        if args[0] == "nvidia-smi":
            if gpu is None:
                raise FileNotFoundError("nvidia-smi")
            return subprocess.CompletedProcess(args, 0, stdout=gpu + "\n", stderr="")
        if args[0] == "git":
            (Path(args[-1]) / "notebooks").mkdir(parents=True)
        return subprocess.CompletedProcess(args, 0, stdout="", stderr="")

    for k in ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE", "COURSEKIT_REPO"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for m in modules:
        monkeypatch.setitem(sys.modules, m, type(sys)(m))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.chdir(tmp_path)
    exec(compile(source or _hosted_cell(NOTEBOOKS[0]), "hosted-cell", "exec"), {"__name__": "__main__"})
    return calls


def test_outside_a_hosted_notebook_nothing_runs(monkeypatch, tmp_path, capsys):
    assert _run(monkeypatch, tmp_path, {}, gpu="Tesla T4, 15360 MiB") == []
    assert capsys.readouterr().out == "" and Path.cwd() == tmp_path


@pytest.mark.parametrize("env, modules", [({"COLAB_RELEASE_TAG": "release-colab"}, ()), ({}, ("google.colab",)),
                                          ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, ())])
def test_on_colab_or_kaggle_it_installs_the_course_and_names_the_gpu(monkeypatch, tmp_path, capsys, env, modules):
    env = {**env, "COURSEKIT_REPO": "https://example.org/course.git"}
    calls = _run(monkeypatch, tmp_path, env, gpu="Tesla T4, 15360 MiB", modules=modules)
    course = str(tmp_path / "coursekit-course")
    assert calls[0] == ["git", "clone", "--depth", "1", "https://example.org/course.git", course]
    assert calls[1][1:] == ["-m", "pip", "install", "-q", "-e", course] and calls[2][0] == "nvidia-smi"
    assert "GPU: Tesla T4, 15360 MiB" in capsys.readouterr().out
    assert Path.cwd() == tmp_path / "coursekit-course" / "notebooks"


def test_a_runtime_without_a_gpu_is_told_so_and_a_rerun_installs_nothing(monkeypatch, tmp_path, capsys):
    (tmp_path / "coursekit-course" / "notebooks").mkdir(parents=True)   # installed by an earlier run
    calls = _run(monkeypatch, tmp_path, {"COLAB_RELEASE_TAG": "x"}, gpu=None)
    assert [c[0] for c in calls] == ["nvidia-smi"]
    assert "No GPU in this runtime" in capsys.readouterr().out


def test_without_the_course_url_it_stops_with_what_to_set(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="COURSEKIT_REPO"):
        _run(monkeypatch, tmp_path, {"COLAB_RELEASE_TAG": "x"}, gpu=None)


def test_a_published_course_renders_its_badges_and_clones_itself_by_default(monkeypatch, tmp_path):
    from tools import render_measurements as R

    monkeypatch.setattr(R, "repository", lambda: "https://github.com/owner/course")
    for nb in NOTEBOOKS:
        old, new = R.render_notebook(nb)
        cells = json.loads(new)["cells"]
        colab = f"https://colab.research.google.com/github/owner/course/blob/main/notebooks/{nb.name}"
        assert f"[![Open In Colab]({R.BADGE})]({colab})" in "".join(cells[0]["source"]), nb.name
        hosted = next("".join(c["source"]) for c in cells if "hosted-setup" in c["metadata"].get("tags", []))
        assert 'os.environ.get("COURSEKIT_REPO", "https://github.com/owner/course.git")' in hosted
    assert R.render((ROOT / "README.md").read_text()).count(R.BADGE) == len(NOTEBOOKS)
    calls = _run(monkeypatch, tmp_path, {"COLAB_RELEASE_TAG": "x"}, gpu=None, source=hosted)
    assert calls[0][:4] == ["git", "clone", "--depth", "1"] and calls[0][4] == "https://github.com/owner/course.git"


def test_the_repository_must_be_a_github_address_and_unpublished_means_no_badge(monkeypatch, tmp_path):
    from tools import render_measurements as R

    monkeypatch.setattr(R, "ROOT", tmp_path)
    for url, ok in (("", True), ("https://github.com/owner/course.git", True), ("https://gitlab.com/o/c", False)):
        (tmp_path / "pyproject.toml").write_text(f'[tool.coursekit]\nrepository = "{url}"\n')
        if ok:
            assert R.repository() == url.removesuffix(".git")
        else:
            with pytest.raises(SystemExit, match="GitHub address"):
                R.repository()
    (tmp_path / "pyproject.toml").write_text('[tool.coursekit]\nrepository = ""\n')
    assert R.colab_badge("01_cnn_from_scratch") == "" and "no public repository" in R.colab_badges()
