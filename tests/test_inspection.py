"""Tests for the inspection dataset (coursekit.data.inspection), its defects and the annotator sample."""
from __future__ import annotations

import re
import shutil

import cv2
import numpy as np
import pytest

from coursekit.data.annotators import SPEC_VERSIONS, agreement, cohen_kappa, disagreement_table, load_annotations
from coursekit.data.inspection import (DEFAULT_COUNTS, INSPECTION_CLASSES, INSPECTION_PARTS, SEVERITY_THRESHOLD,
                                       DatasetIntegrityError, inspection_root, load_inspection, plan_sample,
                                       render_inspection_sample, render_inspection_scene, verify_inspection_dataset)
from coursekit.scenes.defects import Defect
from tools.build_annotations import simulate_annotator
from tools.build_inspection_dataset import _encode, build_inspection_dataset


def _first(label: str, split: str = "train", n: int = 1, **where) -> list[int]:
    out = []
    for i in range(400):
        p = plan_sample(i, split)
        if p.label == label and all(getattr(p, k) == v for k, v in where.items()):
            out.append(i)
            if len(out) == n:
                return out
    raise AssertionError(f"no {label} sample with {where} in the first 400")


# --- determinism ----------------------------------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_other_image():
    for index, split in ((0, "train"), (5, "val"), (7, "test_shifted")):
        a, meta_a = render_inspection_sample(index, split, seed=0)
        b, meta_b = render_inspection_sample(index, split, seed=0)
        assert a.shape == (96, 96, 3) and a.dtype == np.uint8
        assert _encode(a) == _encode(b) and meta_a == meta_b
        c, _ = render_inspection_sample(index, split, seed=1)
        assert (a != c).mean() > 0.5


def test_shipped_files_are_what_the_generator_renders():
    # byte-identical on the machine that built them; elsewhere SIMD rounding may move a few pixels one
    # level, so compare pixels (JPEG quality 95 itself is off by ~2 levels on average)
    root = inspection_root()
    manifest = verify_inspection_dataset(root, splits="val")
    for index in (0, 1, 2, 3, 33):
        for split in ("val", "test_shifted"):
            image, meta = render_inspection_sample(index, split, seed=manifest["seed"], size=manifest["size"])
            rel = f"{split}/{meta['class']}/{split}_{index:04d}.jpg"
            shipped = cv2.imdecode(np.fromfile(str(root / rel), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
            err = np.abs(shipped.astype(int) - image.astype(int))
            assert err.mean() < 4 and np.percentile(err, 99) < 16, f"{rel} is not what the generator renders"


def test_classes_are_balanced_and_splits_disjoint():
    for split in ("train", "test_shifted"):
        labels = [plan_sample(i, split).label for i in range(40)]
        assert sorted(labels) == sorted(INSPECTION_CLASSES * 10)
        assert labels[:4] != list(INSPECTION_CLASSES) or labels[4:8] != list(INSPECTION_CLASSES)
    a, _ = render_inspection_sample(0, "train")
    b, _ = render_inspection_sample(0, "test")
    assert (a != b).mean() > 0.5
    parts = {plan_sample(i, "train").part for i in range(200)}
    assert parts == set(INSPECTION_PARTS)


# --- the labels are right -----------------------------------------------------------------------------------

def _holes(mask: np.ndarray) -> int:
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    return 0 if hierarchy is None else int((hierarchy[0][:, 3] >= 0).sum())


def test_missing_hole_has_fewer_holes_than_its_twin():
    for split in ("train", "test_shifted"):
        for index in _first("missing_hole", split, n=6):
            scene, meta = render_inspection_scene(index, split)
            twin, _ = render_inspection_scene(index, split, clean=True)
            (obj,), (ref,) = scene.objects, twin.objects
            assert obj.defects[0] == "missing_hole" and ref.defects == []
            assert _holes(obj.mask) < _holes(ref.mask), f"{split} {index} ({meta['part']})"
            assert obj.mask.sum() > ref.mask.sum()


@pytest.mark.parametrize("label", ["scratch", "crack"])
def test_defect_changes_only_the_part(label):
    for index in _first(label, "train", n=4):
        scene, meta = render_inspection_scene(index, "train")
        twin, _ = render_inspection_scene(index, "train", clean=True)
        diff = np.abs(scene.image.astype(int) - twin.image.astype(int)).max(2)
        near = cv2.dilate(twin.objects[0].mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        assert diff[near].max() >= 8, f"{label} {index} (severity {meta['severity']}) is invisible"
        assert (diff[~near] == 0).all(), f"{label} {index} changed pixels off the part"
        assert np.array_equal(scene.objects[0].mask, twin.objects[0].mask)


def test_severity_sets_visibility():
    from coursekit.scenes import SceneGenerator
    from coursekit.scenes.defects import defect_hook

    def contrast(kind, severity):
        hook = defect_hook([Defect(kind, severity)], seed=(1, 2))
        kw = dict(parts=("plate",), seed=4, centred=True)
        a = SceneGenerator(96, defect_hook=hook, **kw).render(0).image.astype(int)
        b = SceneGenerator(96, **kw).render(0).image.astype(int)
        return np.abs(a - b).sum()

    for kind in ("scratch", "crack"):
        faint, mid, strong = contrast(kind, 0.1), contrast(kind, 0.4), contrast(kind, 0.9)
        assert faint < mid < strong, (kind, faint, mid, strong)
    with pytest.raises(ValueError, match="severity"):
        Defect("scratch", 1.5)
    with pytest.raises(ValueError, match="unknown defect"):
        Defect("dent", 0.5)


# --- the shipped dataset --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    root = inspection_root()
    return root, verify_inspection_dataset(root)


def test_shipped_manifest_counts_and_readme(shipped):
    root, manifest = shipped
    assert manifest["counts_per_class"] == DEFAULT_COUNTS and manifest["classes"] == list(INSPECTION_CLASSES)
    for split, n in DEFAULT_COUNTS.items():
        for cls in INSPECTION_CLASSES:
            assert len(list((root / split / cls).glob("*.jpg"))) == n
    readme = (root / "README.md").read_text()
    for split, n in DEFAULT_COUNTS.items():
        row = re.search(rf"^\| {split} \| \w+ \|(.*)\|$", readme, re.M)
        assert row, f"README has no count row for {split}"
        cells = [int(c) for c in row.group(1).split("|")]
        assert cells == [n] * len(INSPECTION_CLASSES) + [n * len(INSPECTION_CLASSES)]
    assert "CC0" in readme and "python -m tools.build_inspection_dataset" in readme and str(SEVERITY_THRESHOLD) in readme
    size = sum(f["size"] for f in manifest["files"].values()) + (root / "manifest.json").stat().st_size
    assert size < 12e6, f"the dataset is {size / 1e6:.1f} MB"


def test_verify_names_changed_missing_and_extra_files(shipped, tmp_path):
    root, _ = shipped
    copy = tmp_path / "inspection"
    shutil.copytree(root, copy)
    (copy / ".ipynb_checkpoints").mkdir()  # hidden folders are ignored
    verify_inspection_dataset(copy)
    victim = copy / "val" / "crack"
    changed, gone = sorted(victim.glob("*.jpg"))[:2]
    data = bytearray(changed.read_bytes())
    data[-10] ^= 0xFF
    changed.write_bytes(bytes(data))
    gone.unlink()
    (copy / "test" / "ok" / "stray.jpg").write_bytes(b"x")
    with pytest.raises(DatasetIntegrityError) as err:
        verify_inspection_dataset(copy)
    msg = str(err.value)
    assert f"val/crack/{changed.name}" in msg and f"val/crack/{gone.name}" in msg and "test/ok/stray.jpg" in msg
    assert "changed (1)" in msg and "missing (1)" in msg
    verify_inspection_dataset(copy, splits="train")  # only the named split is checked
    with pytest.raises(DatasetIntegrityError, match="val/crack"):
        load_inspection("val", root=copy)


def test_load_inspection_matches_labels(shipped):
    root, _ = shipped
    ds, meta = load_inspection("val", root=root)
    n = DEFAULT_COUNTS["val"] * len(INSPECTION_CLASSES)
    assert ds.images.shape == (n, 96, 96, 3) and ds.classes == list(INSPECTION_CLASSES)
    assert ds.class_counts().tolist() == [DEFAULT_COUNTS["val"]] * 4
    assert [ds.classes[k] for k in ds.labels] == meta["class"].tolist()
    assert all(f.split("/")[1] == c for f, c in zip(meta["file"], meta["class"]))
    defect = meta["class"] != "ok"
    assert (meta.loc[defect, "severity"] >= SEVERITY_THRESHOLD).all()
    assert (meta.loc[~defect, "severity"] < SEVERITY_THRESHOLD).all()
    assert set(meta["lighting"]) <= {"dark", "dim", "normal", "bright"} and (meta["domain"] == "source").all()
    with pytest.raises(ValueError, match="unknown split"):
        load_inspection("holdout", root=root)


def test_shifted_split_looks_different(shipped):
    root, _ = shipped
    src, src_meta = load_inspection("test", root=root)
    shf, shf_meta = load_inspection("test_shifted", root=root)
    x, y = src.images.astype(np.float32), shf.images.astype(np.float32)
    assert x.mean() - y.mean() > 25, f"shifted should be darker: {x.mean():.0f} vs {y.mean():.0f}"

    def sharp(ims):
        return np.mean([np.abs(cv2.Laplacian(im.mean(2), cv2.CV_32F)).mean() for im in ims])

    assert sharp(y) < 0.7 * sharp(x)
    assert set(src_meta["background"]).isdisjoint(shf_meta["background"])
    assert (shf_meta["domain"] == "shifted").all()


def test_build_is_atomic_and_deterministic(tmp_path):
    out = tmp_path / "ds"
    build_inspection_dataset(out, counts={"val": 1, "test_shifted": 1}, progress=False)
    first = verify_inspection_dataset(out)
    build_inspection_dataset(out, counts={"val": 1, "test_shifted": 1}, progress=False)
    second = verify_inspection_dataset(out)
    assert first["files"] == second["files"] and len(first["files"]) == 8 + 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert "--train 0" in (out / "README.md").read_text()
    with pytest.raises(ValueError, match="unknown split"):
        build_inspection_dataset(out, counts={"holdout": 2}, progress=False)
    with pytest.raises(ValueError, match="index"):
        render_inspection_sample(-1, "train")


# --- two annotators -------------------------------------------------------------------------------------------

def test_annotator_agreement_improves_with_the_revised_spec(shipped):
    from sklearn.metrics import cohen_kappa_score

    root, _ = shipped
    import pandas as pd

    truth = pd.read_csv(root / "labels.csv").set_index("file")
    stats = {}
    for version in SPEC_VERSIONS:
        df = load_annotations(version)
        assert list(df.columns) == ["file", "annotator_a", "annotator_b", "spec_version"]
        assert len(df) == 200 and (df.spec_version == version).all() and df.file.isin(truth.index).all()
        a, b = df.annotator_a, df.annotator_b
        kappa = cohen_kappa(a, b)
        assert kappa == pytest.approx(cohen_kappa_score(a, b))
        po = agreement(a, b)
        pe = sum((a == c).mean() * (b == c).mean() for c in INSPECTION_CLASSES)
        assert kappa == pytest.approx((po - pe) / (1 - pe))
        table = disagreement_table(df)
        assert list(table.index) == list(INSPECTION_CLASSES) == list(table.columns)
        assert table.to_numpy().sum() == 200 and np.trace(table.to_numpy()) == round(po * 200)
        # the shipped labels are the simulation's
        sample = truth.loc[df.file].reset_index()
        assert (simulate_annotator(sample, "b", version) == df.annotator_b.to_numpy()).all()
        stats[version] = po, kappa, (df.annotator_a == sample["class"]).mean()
    assert stats["v1"][0] < 0.9 < stats["v2"][0]
    assert stats["v1"][1] < stats["v2"][1]
    assert stats["v2"][2] > 0.95  # A follows the revised spec


def test_agreement_inputs_are_checked():
    assert agreement(["ok"], ["ok"]) == 1.0
    with pytest.raises(ValueError, match="same length"):
        agreement(["ok", "crack"], ["ok"])
    with pytest.raises(ValueError, match="empty"):
        cohen_kappa([], [])
    with pytest.raises(ValueError, match="spec version"):
        load_annotations("v3")


def test_annotations_are_checked_against_their_manifest(tmp_path):
    from coursekit.data.annotators import annotations_root, verify_annotations

    copy = tmp_path / "annotations"
    shutil.copytree(annotations_root(), copy)
    assert set(verify_annotations(copy)["files"]) == {"README.md", "labels_v1.csv", "labels_v2.csv"}
    path = copy / "labels_v2.csv"
    path.write_text(path.read_text().replace(",crack,", ",scratch,", 1))
    with pytest.raises(DatasetIntegrityError, match="labels_v2.csv"):
        load_annotations("v2", root=copy)


# --- other part sets (the stand-in's pre-training data) -------------------------------------------------------

def test_plan_sample_draws_only_the_given_parts():
    parts = ("bolt", "hex_nut")
    plans = [plan_sample(i, "train", 0, parts=parts) for i in range(40)]
    assert {p.part for p in plans} == set(parts)
    assert sorted(p.label for p in plans) == sorted(INSPECTION_CLASSES * 10)  # still balanced
    # a bolt has no hole: a missing hole is only ever planned on the hex nut
    assert {p.part for p in plans if p.label == "missing_hole"} == {"hex_nut"}
    ok = next(i for i in range(40) if plan_sample(i, "train", 0).label == "ok")
    assert plan_sample(ok, "train", 0, parts="bolt").part == "bolt"  # one name is a one-part set
    hole = next(i for i in range(40) if plan_sample(i, "train", 0).label == "missing_hole")
    with pytest.raises(ValueError, match="no holes"):
        plan_sample(hole, "train", 0, parts=("bolt", "knob"))
    for i in [i for i, p in enumerate(plans) if p.label != "missing_hole"][:3]:
        scene, meta = render_inspection_scene(i, "train", 0, parts=parts)
        assert scene.objects[0].part == meta["part"] == plans[i].part


def test_default_parts_are_the_inspection_parts():
    for i in range(24):
        assert plan_sample(i, "val", 3) == plan_sample(i, "val", 3, parts=INSPECTION_PARTS)
    for i in (0, 7):
        a, meta_a = render_inspection_sample(i, "train", seed=0)
        b, meta_b = render_inspection_sample(i, "train", seed=0, parts=INSPECTION_PARTS)
        assert np.array_equal(a, b) and meta_a == meta_b


def test_unknown_parts_are_refused_with_the_valid_ones():
    from coursekit.scenes.parts import PARTS

    with pytest.raises(ValueError) as err:
        plan_sample(0, "train", 0, parts=("bolt", "sprocket"))
    msg = str(err.value)
    assert "sprocket" in msg and all(p in msg for p in PARTS)
    with pytest.raises(ValueError, match="parts"):
        plan_sample(0, "train", 0, parts=())
    with pytest.raises(ValueError, match="sprocket"):
        render_inspection_sample(0, "train", 0, parts=("sprocket",))


def test_render_with_parts_is_deterministic():
    parts = ("hex_nut", "circlip")
    index = next(i for i in range(40) if plan_sample(i, "train", 0, parts=parts).label != "missing_hole")
    a, meta_a = render_inspection_sample(index, "train", 0, parts=parts)
    b, meta_b = render_inspection_sample(index, "train", 0, parts=parts)
    assert a.shape == (96, 96, 3) and a.dtype == np.uint8
    assert _encode(a) == _encode(b) and a.tobytes() == b.tobytes() and meta_a == meta_b
    assert meta_a["part"] in parts
    default, _ = render_inspection_sample(index, "train", 0)
    assert not np.array_equal(a, default)
