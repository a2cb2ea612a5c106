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
