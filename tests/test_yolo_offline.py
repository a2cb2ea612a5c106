"""Module 3's YOLO wrapper (coursekit.models.yolo) with the network unreachable: the stand-in, one tiny training,
predictions as Detections, the offline error of the full profile, and the data.yaml copy for another test split.

The training test runs in a fresh Python process: ultralytics reads its offline variables and settings folder
when it is first imported, and another test of this session may have imported it already. In that process the
network is cut before anything is imported (socket connect / create_connection / DNS, urllib's urlopen, and the
pip / uv / curl / wget / git commands), and every attempt is recorded.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from coursekit.assets import ASSETS, AssetUnavailable
from coursekit.data.detection import detection_root
from coursekit.config import Settings

ROOT = Path(__file__).resolve().parents[1]
N_IMAGES = 4  # train = val = these few images of parts_detection's train split


def tiny_yolo_dataset(dest: Path, n: int = N_IMAGES) -> Path:
    """A YOLO dataset of ``n`` images of parts_detection's train split (and their labels), val = the same images.
    Returns its data.yaml (absolute paths)."""
    src = detection_root()
    images = sorted((src / "images" / "train").glob("*.jpg"))[:n]
    assert len(images) == n
    for split in ("train", "val"):
        (dest / "images" / split).mkdir(parents=True)
        (dest / "labels" / split).mkdir(parents=True)
        for im in images:
            shutil.copy(im, dest / "images" / split / im.name)
            shutil.copy(src / "labels" / "train" / f"{im.stem}.txt", dest / "labels" / split / f"{im.stem}.txt")
    names = yaml.safe_load((src / "data.yaml").read_text())["names"]
    data = {"path": str(dest), "train": "images/train", "val": "images/val", "names": names}
    (dest / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return dest / "data.yaml"


# Runs in the fresh process. Everything that could reach the network is replaced first, then coursekit runs
# the whole Module 3 path; the last stdout line is a JSON report.
DRIVER = textwrap.dedent(r'''
    import json, os, socket, subprocess, sys, time, urllib.request

    ATTEMPTS = []

    def blocked(kind):
        def refuse(*args, **kwargs):
            ATTEMPTS.append([kind, repr(args)[:300]])
            raise OSError(f"network unreachable (test): {kind}")
        return refuse

    socket.socket.connect = blocked("socket.connect")
    socket.socket.connect_ex = blocked("socket.connect_ex")
    socket.create_connection = blocked("socket.create_connection")
    socket.getaddrinfo = blocked("socket.getaddrinfo")
    socket.gethostbyname = blocked("socket.gethostbyname")
    urllib.request.urlopen = blocked("urllib.request.urlopen")

    _Popen = subprocess.Popen
    class Popen(_Popen):  # pip / uv installs, curl / wget downloads, git: recorded and refused
        def __init__(self, args, *a, **k):
            argv = args.split() if isinstance(args, str) else [str(x) for x in args]
            prog = os.path.basename(argv[0]) if argv else ""
            if prog.startswith(("pip", "uv", "curl", "wget", "git")) or argv[1:3] == ["-m", "pip"]:
                ATTEMPTS.append(["subprocess", repr(args)[:300]])
                raise OSError("network command refused (test)")
            super().__init__(args, *a, **k)
    subprocess.Popen = Popen

    t0 = time.perf_counter()
    import coursekit as ck
    from coursekit.models.yolo import predict_detections, train_yolo, yolo_model
    from coursekit.types import Detections

    data_yaml, project, image_dir = sys.argv[1:4]
    S = ck.settings()
    yolo = yolo_model(S, progress=False)
    model, is_standin = yolo.model, yolo.is_standin
    import ultralytics.utils as uu
    t1 = time.perf_counter()
    best, metrics = train_yolo(model, data_yaml, epochs=1, imgsz=64, batch=4, device="cpu", project=project,
                               name="tiny", seed=0)
    t2 = time.perf_counter()
    import cv2, pathlib
    files = sorted(pathlib.Path(image_dir).glob("*.jpg"))[:2]
    rgb = [cv2.imread(str(f))[..., ::-1] for f in files]
    dets = predict_detections(model, rgb, imgsz=64)
    from_paths = predict_detections(model, files, imgsz=64)
    # model.val(save_json=True) also asks for faster-coco-eval (a pip install when allowed): must stay offline
    from coursekit.models.yolo import val_predictions
    val_metrics = model.val(data=data_yaml, split="val", imgsz=64, batch=4, device="cpu", project=project,
                            name="val", exist_ok=True, save_json=True, plots=False, verbose=False)
    val_preds = val_predictions(pathlib.Path(val_metrics.save_dir) / "predictions.json", model.names, data_yaml,
                                "val")
    t3 = time.perf_counter()
    print(json.dumps({
        "attempts": ATTEMPTS, "is_standin": is_standin, "best": str(best),
        "map50": float(metrics.box.map50), "n_dets": [len(d) for d in dets],
        "all_detections": all(isinstance(d, Detections) for d in dets),
        "image_sizes": [list(d.image_size) for d in dets], "class_names": dets[0].class_names,
        "same_from_paths": len(dets) == len(from_paths) and all(
            a.xyxy.shape == b.xyxy.shape and (a.xyxy == b.xyxy).all() and (a.class_id == b.class_id).all()
            for a, b in zip(dets, from_paths)),
        "val_preds": [len(d) for d in val_preds], "val_all_detections": all(isinstance(d, Detections) for d in val_preds),
        "val_map50": float(val_metrics.box.map50),
        "config_dir": str(uu.USER_CONFIG_DIR), "online": uu.ONLINE, "autoinstall": uu.AUTOINSTALL,
        "settings": {k: uu.SETTINGS[k] for k in ("sync", "api_key", "mlflow", "comet", "clearml", "dvc")},
        "seconds": {"import_and_model": t1 - t0, "train": t2 - t1, "predict": t3 - t2},
    }))
''')


@pytest.fixture
def isolated_env(tmp_path) -> dict:
    """The environment of the fresh process: an empty COURSEKIT_HOME, smoke profile, offline (what CI sets), and
    none of ultralytics' own variables (coursekit must set them), nor pytest's (so ultralytics does not take the
    shortcuts it takes under tests)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("YOLO_", "COURSEKIT_", "PYTEST_")) and k != "ULTRALYTICS_API_KEY"}
    env.update(COURSEKIT_HOME=str(tmp_path / "ckhome"), COURSEKIT_PROFILE="smoke", COURSEKIT_OFFLINE="1",
               COURSEKIT_DEVICE="cpu", MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    return env


@pytest.mark.slow
def test_standin_trains_and_predicts_without_any_network_attempt(tmp_path, isolated_env):
    """About 10-15 s on 2 CPU cores: importing torch and ultralytics (~4 s), one epoch at 64 px on 4 images with
    plots (~6 s), two predictions."""
    data_yaml = tiny_yolo_dataset(tmp_path / "tiny")
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, str(data_yaml), str(tmp_path / "runs"), str(tmp_path / "tiny/images/val")],
        env=isolated_env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - start
    assert run.returncode == 0, f"driver failed:\n{run.stdout[-3000:]}\n{run.stderr[-5000:]}"
    report = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"fresh process: {seconds:.1f} s in all; {report['seconds']}")

    assert report["attempts"] == [], f"network attempts: {report['attempts']}"
    assert report["is_standin"] is True
    assert "!! STAND-IN:" in run.stdout and "yolo11n.yaml with random weights" in run.stdout
    # ultralytics' settings live in the course cache, offline
    home = Path(isolated_env["COURSEKIT_HOME"])
    assert Path(report["config_dir"]) == home / "ultralytics" / "Ultralytics"
    assert report["online"] is False and report["autoinstall"] is False
    assert report["settings"] == {"sync": False, "api_key": "", "mlflow": False, "comet": False, "clearml": False,
                                  "dvc": False}
    saved = json.loads((home / "ultralytics" / "Ultralytics" / "settings.json").read_text())
    assert saved["sync"] is False and saved["runs_dir"] == str(home / "ultralytics" / "runs")
    # the font check found the local copy (plots on): no Arial download, plots drawn with it
    assert (home / "ultralytics" / "Ultralytics" / "Arial.ttf").is_file()
    assert (tmp_path / "runs" / "tiny" / "results.csv").is_file()
    assert any((tmp_path / "runs" / "tiny").glob("*.png")), "plots=True drew no plot"
    # training wrote best.pt; predictions are one Detections per image, for RGB arrays and paths alike
    assert Path(report["best"]).is_file() and Path(report["best"]).name == "best.pt"
    assert report["all_detections"] and len(report["n_dets"]) == 2
    assert report["image_sizes"] == [[320, 320], [320, 320]]
    assert report["class_names"] == yaml.safe_load((detection_root() / "data.yaml").read_text())["names"]
    assert report["same_from_paths"]
    # val() with save_json: its boxes come back as one Detections per val image, nothing installed or fetched
    assert len(report["val_preds"]) == N_IMAGES and report["val_all_detections"]
    assert (tmp_path / "runs" / "val" / "predictions.json").is_file()
    assert not (home / "assets" / "yolo11n" / "yolo11n.pt").exists()  # offline: nothing fetched
    assert not any(tmp_path.glob("*.pt")), "ultralytics downloaded weights into the working folder"


def test_the_guard_sees_ultralytics_left_online(tmp_path, isolated_env):
    """Control: the same guard, around ultralytics imported *without* offline_ultralytics, records its online check
    at import and the Arial font download the dataset check asks for. (So the test above can fail.)"""
    probe = DRIVER.split("t0 = time.perf_counter()")[0] + textwrap.dedent("""
        import ultralytics.utils
        from ultralytics.utils.checks import check_font
        check_font("NoSuchFont-coursekit.ttf")  # not on any machine: the same path as a missing Arial.ttf
        print(json.dumps(ATTEMPTS))
    """)
    isolated_env["YOLO_CONFIG_DIR"] = str(tmp_path / "plain")
    run = subprocess.run([sys.executable, "-c", probe], env=isolated_env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    hosts = [a[1] for a in json.loads(run.stdout.strip().splitlines()[-1])]
    assert any("one.one.one.one" in h for h in hosts), hosts  # is_online() at import (DNS)
    assert any("github.com" in h for h in hosts), hosts  # check_font -> is_url(check=True) -> HEAD request


def test_ultralytics_imported_first_is_made_offline_with_a_warning(tmp_path, isolated_env):
    """A notebook that imported ultralytics before coursekit: its online check already ran (recorded), but from
    offline_ultralytics on nothing reaches the network, a warning says why, and the learner's own settings file
    is left as it was."""
    probe = DRIVER.split("t0 = time.perf_counter()")[0] + textwrap.dedent("""
        import warnings
        import ultralytics.utils as uu
        at_import = list(ATTEMPTS)
        ATTEMPTS.clear()
        import coursekit as ck
        from coursekit.models.yolo import offline_ultralytics
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            setup = offline_ultralytics(ck.settings())
            offline_ultralytics(ck.settings())  # warns once
        from ultralytics.utils import checks
        font = checks.check_font("Arial.ttf")
        print(json.dumps({"at_import": at_import, "after": ATTEMPTS, "warnings": [str(w.message) for w in caught],
                          "online": checks.ONLINE, "autoinstall": checks.AUTOINSTALL, "sync": uu.SETTINGS["sync"],
                          "font": str(font), "fonts": [str(f) for f in setup.fonts],
                          "imported_before": setup.imported_before}))
    """)
    isolated_env["YOLO_CONFIG_DIR"] = str(tmp_path / "learner")  # where the learner's own ultralytics settings are
    run = subprocess.run([sys.executable, "-c", probe], env=isolated_env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["at_import"], "the import-time online check was not seen"
    assert report["after"] == []
    assert len(report["warnings"]) == 1 and "imported before" in report["warnings"][0]
    assert report["online"] is False and report["autoinstall"] is False and report["sync"] is False
    assert report["font"] in report["fonts"] and report["imported_before"] is True
    learner = json.loads((tmp_path / "learner" / "Ultralytics" / "settings.json").read_text())
    assert learner["sync"] is True  # their file: untouched


# --- in this process -----------------------------------------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch) -> list:
    """Cut the network for the test and record every attempt: ``[(kind, target), ...]``."""
    import socket
    import urllib.request

    attempts: list = []

    def blocked(kind):
        def refuse(*args, **kwargs):
            attempts.append((kind, repr(args)[:300]))
            raise OSError(f"network unreachable (test): {kind}")
        return refuse

    monkeypatch.setattr(socket.socket, "connect", blocked("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", blocked("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", blocked("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", blocked("socket.getaddrinfo"))
    monkeypatch.setattr(urllib.request, "urlopen", blocked("urllib.request.urlopen"))
    return attempts


@pytest.fixture
def yolo_env(home, monkeypatch, no_network):
    """A fresh COURSEKIT_HOME, no network, and ultralytics' variables restored after the test (offline_ultralytics
    sets them in os.environ). Ultralytics may have been imported by an earlier test of this session: then
    offline_ultralytics warns (allowed here) and applies its choices to the running process."""
    for var in ("YOLO_CONFIG_DIR", "YOLO_OFFLINE", "YOLO_AUTOINSTALL"):
        if var in os.environ:
            monkeypatch.setenv(var, os.environ[var])
        else:
            monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("COURSEKIT_STANDINS", raising=False)
    return home


@pytest.fixture(autouse=True)
def _allow_late_import_warning():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ultralytics was", category=RuntimeWarning)
        yield


def _settings(home: Path, profile: str = "smoke", offline: bool = True) -> Settings:
    return Settings(profile=profile, device="cpu", seed=0, home=home, offline=offline)


def test_full_profile_without_weights_stops_with_the_fetch_command(yolo_env, no_network, monkeypatch, capsys):
    from coursekit.models.yolo import yolo_model, yolo_weights

    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    with pytest.raises(AssetUnavailable) as err:
        yolo_model(_settings(yolo_env, "full"), progress=False)
    msg = str(err.value)
    assert "coursekit fetch yolo11n" in msg and ASSETS["yolo11n"].url in msg
    assert "COURSEKIT_STANDINS=1" in msg and err.value.reason == "COURSEKIT_OFFLINE is set"
    assert "STAND-IN" not in capsys.readouterr().out  # no fallback, silent or loud
    monkeypatch.setenv("COURSEKIT_STANDINS", "1")
    yolo = yolo_model(_settings(yolo_env, "full"), progress=False)
    assert yolo.is_standin and yolo.model.task == "detect" and yolo.weights == "yolo11n.yaml" and "STAND-IN" in capsys.readouterr().out
    # what notebook 03 hands ultralytics' YOLO(...) itself: the same file, the same announcement
    assert yolo_weights(_settings(yolo_env, "full"), progress=False) == ("yolo11n.yaml", True)
    assert "STAND-IN" in capsys.readouterr().out
    assert no_network == []


def test_online_but_unreachable_only_the_registry_tries(yolo_env, no_network, capsys):
    """Not offline, but no network: the one attempt is the asset registry's download of the weights; ultralytics
    itself tries nothing, and the smoke profile goes on with the announced stand-in."""
    from coursekit.models.yolo import yolo_model

    yolo = yolo_model(_settings(yolo_env, offline=False), progress=False)
    assert yolo.is_standin and "STAND-IN" in capsys.readouterr().out
    assert [kind for kind, _ in no_network] == ["urllib.request.urlopen"]


def test_cached_weights_are_loaded_from_the_registry(yolo_env, no_network, monkeypatch, tmp_path, capsys):
    """With the weights in the cache (here a checkpoint made on the spot, registered under a test name), the full
    profile offline gets them, verified, and ultralytics loads them without looking online."""
    from coursekit import assets
    from coursekit.models import yolo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yolo.offline_ultralytics(_settings(yolo_env))
    from ultralytics import YOLO

    made = tmp_path / "made.pt"
    YOLO("yolo11n.yaml", verbose=False).save(made)
    fake = assets.Asset(name="yolo11n-test", url="https://example.invalid/yolo11n.pt", sha256=assets.sha256_of(made),
                        size=made.stat().st_size, filename="yolo11n.pt", licence="test", used_by=("tests",))
    monkeypatch.setitem(assets.ASSETS, fake.name, fake)
    monkeypatch.setitem(yolo.YOLO_ASSETS, "yolo11n", fake.name)
    cached = assets.asset_path(fake, yolo_env)
    cached.parent.mkdir(parents=True)
    shutil.copy(made, cached)
    loaded = yolo.yolo_model(_settings(yolo_env, "full"), progress=False)
    assert not loaded.is_standin and "STAND-IN" not in capsys.readouterr().out
    assert Path(loaded.model.ckpt_path) == cached and loaded.model.task == "detect" and loaded.weights == str(cached)
    assert no_network == []


def test_registered_yolo11n_asset():
    a = ASSETS["yolo11n"]
    assert a.url == "https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11n.pt"
    assert a.filename == "yolo11n.pt" and a.size == 5_613_764
    assert a.sha256 == "0ebbc80d4a7680d14987a577cd21342b65ecfd94632bd9a8da63ae6417644ee1"


def test_yolo_data_yaml_points_test_at_the_requested_split(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_HOME", str(tmp_path / "ckhome"))
    from coursekit.models.yolo import yolo_data_yaml

    root = detection_root()
    path = yolo_data_yaml(root, test_split="test_shifted")
    assert path.parent == tmp_path / "ckhome" / "yolo_data" and path.suffix == ".yaml"
    data = yaml.safe_load(path.read_text())
    assert data["test"] == str((root / "images" / "test_shifted").resolve())
    assert data["train"] == str((root / "images" / "train").resolve()) and Path(data["path"]).is_absolute()
    assert data["val"] == str((root / "images" / "val").resolve())
    assert data["names"] == yaml.safe_load((root / "data.yaml").read_text())["names"]
    assert [p.name for p in path.parent.iterdir()] == [path.name], "a temporary file was left behind"
    # the default split, another output folder, the same answer twice (atomic rewrite)
    other = yolo_data_yaml(root / "data.yaml", out_dir=tmp_path / "out")
    assert yaml.safe_load(other.read_text())["test"] == str((root / "images" / "test").resolve())
    assert yolo_data_yaml(root / "data.yaml", out_dir=tmp_path / "out").read_text() == other.read_text()
    with pytest.raises(ValueError, match="no split 'nope'"):
        yolo_data_yaml(root, test_split="nope", out_dir=tmp_path / "out")


def test_yolo_data_yaml_is_what_ultralytics_resolves(tmp_path, yolo_env, no_network):
    """Ultralytics' own dataset check reads the copy: its 'test' is the shifted split. The font check it makes
    finds the local copy: no network."""
    from coursekit.models.yolo import offline_ultralytics, yolo_data_yaml

    offline_ultralytics(_settings(yolo_env))
    from ultralytics.data.utils import check_det_dataset

    path = yolo_data_yaml(detection_root(), test_split="test_shifted", out_dir=tmp_path)
    data = check_det_dataset(str(path), autodownload=False)
    assert Path(data["test"]) == (detection_root() / "images" / "test_shifted").resolve()
    assert data["nc"] == 6
    assert no_network == []


def test_offline_ultralytics_is_idempotent(yolo_env, no_network):
    from coursekit.models.yolo import offline_ultralytics

    first = offline_ultralytics(_settings(yolo_env))
    second = offline_ultralytics(_settings(yolo_env))
    assert first == second
    assert os.environ["YOLO_OFFLINE"] == "1" and os.environ["YOLO_AUTOINSTALL"] == "0"
    assert os.environ["YOLO_CONFIG_DIR"] == str(yolo_env / "ultralytics")
    import ultralytics.utils as uu
    from ultralytics.utils import checks

    assert checks.ONLINE is False and checks.AUTOINSTALL is False and uu.SETTINGS["sync"] is False
    assert [f.name for f in first.fonts] == ["Arial.ttf", "Arial.Unicode.ttf"] and all(f.is_file() for f in first.fonts)
    assert checks.check_font("Arial.ttf") is not None  # found locally ...
    assert no_network == []  # ... not downloaded


def test_amp_never_starts_the_amp_check():
    from coursekit.models.yolo import yolo_amp

    assert yolo_amp("cpu") is False and yolo_amp("mps") is False


def test_rgb_arrays_reach_ultralytics_as_bgr():
    from coursekit.models.yolo import _sources

    rgb = np.zeros((2, 8, 8, 3), np.uint8)
    rgb[..., 0] = 255  # red
    batch, single, listed = _sources(rgb), _sources(rgb[0]), _sources([rgb[0], "a.jpg"])
    assert len(batch) == 2 and (batch[0][..., 2] == 255).all() and (batch[0][..., 0] == 0).all()
    assert batch[0].flags["C_CONTIGUOUS"] and (single[0] == batch[0]).all()
    assert (listed[0] == batch[0]).all() and listed[1] == "a.jpg" and _sources("b.jpg") == ["b.jpg"]
    with pytest.raises(ValueError, match="RGB"):
        _sources(np.zeros((8, 8), np.uint8))
