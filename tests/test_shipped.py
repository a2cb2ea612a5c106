"""Shipped datasets are found in the repository, then in the cache; otherwise the error says how to get them."""
from __future__ import annotations

import pytest

from coursekit.data.shipped import find_shipped_dataset


def test_repository_copy_is_found():
    assert (find_shipped_dataset("inspection") / "manifest.json").is_file()


def test_cache_copy_is_found(home):
    (home / "datasets" / "mine").mkdir(parents=True)
    (home / "datasets" / "mine" / "manifest.json").write_text("{}")
    assert find_shipped_dataset("mine") == home / "datasets" / "mine"


def test_missing_dataset_error_names_both_places_and_the_fix(home):
    with pytest.raises(FileNotFoundError) as info:
        find_shipped_dataset("absent", rebuild="python -m build_it")
    msg = str(info.value)
    assert "datasets/absent" in msg and str(home) in msg and "python -m build_it" in msg


# --- what ships is what tools/ builds ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, builder", [("pretrained_standin", "tools.build_pretrain_standin"),
                                           ("clip_standin", "tools.build_clip_standin"),
                                           ("sam_standin", "tools.build_sam_standin")])
def test_standin_readmes_are_what_the_tools_write_from_their_manifests(name, builder):
    """The trained stand-ins' READMEs are rendered by their tools/ builder from the shipped manifest, byte for
    byte (the weights themselves take 20-35 minutes each to retrain; their tiny recipes' rebuilds are checked
    for determinism in test_pretrain, test_clip and test_sam)."""
    import importlib
    import json
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "datasets" / name
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert importlib.import_module(builder)._readme(manifest) == (folder / "README.md").read_text(encoding="utf-8")
    assert manifest["made_by"].startswith(builder + ".")


def test_annotations_rebuild_byte_identically_from_tools(tmp_path):
    """The two-annotator sample is simulated from the shipped inspection labels: rebuilding it with tools/ gives
    the shipped files, byte for byte (no pixels involved, so no SIMD rounding)."""
    from pathlib import Path

    from tools.build_annotations import build_annotation_sample

    shipped = Path(__file__).resolve().parents[1] / "datasets" / "annotations"
    out = build_annotation_sample(tmp_path / "annotations")
    names = sorted(p.name for p in shipped.iterdir() if not p.name.startswith("."))
    assert names == sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    for n in names:
        assert (out / n).read_bytes() == (shipped / n).read_bytes(), f"{n} differs from the shipped copy"
