"""The run settings: profile, device, seed, cache folder."""
from __future__ import annotations

import random
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
import torch

from coursekit.config import Settings, pick_device, seed_everything, settings


def test_defaults_to_full_profile(monkeypatch):
    monkeypatch.delenv("COURSEKIT_PROFILE", raising=False)
    assert settings(device="cpu").profile == "full"


def test_reads_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSEKIT_PROFILE", "Smoke")
    monkeypatch.setenv("COURSEKIT_SEED", "7")
    monkeypatch.setenv("COURSEKIT_HOME", str(tmp_path))
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    S = settings(device="cpu")
    assert (S.profile, S.seed, S.home, S.offline, S.smoke) == ("smoke", 7, tmp_path.resolve(), True, True)
    assert S.pick(full=24, smoke=2) == 2


def test_bad_profile_and_seed_are_clear(monkeypatch):
    with pytest.raises(ValueError, match="full, smoke"):
        settings(profile="fast", device="cpu")
    monkeypatch.setenv("COURSEKIT_SEED", "abc")
    with pytest.raises(ValueError, match="COURSEKIT_SEED"):
        settings(device="cpu")


def test_device_choice():
    assert pick_device("cpu") == "cpu"
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert pick_device() == expected
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="expected cpu"):
        pick_device("tpu")


def test_seed_everything_is_repeatable():
    seed_everything(3)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(3)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(4)
    c = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b and a != c


def test_settings_is_frozen():
    with pytest.raises(FrozenInstanceError):
        Settings().profile = "smoke"  # type: ignore[misc]


def test_module_setting_hands_out_a_copy():
    from coursekit.config import module_setting

    table = {"smoke": {"lr": {"head": 1e-3}}, "full": {"lr": {"head": 1e-2}}}
    row = module_setting(table, Settings(profile="smoke"))
    row["lr"]["head"] = 5.0
    assert table["smoke"]["lr"]["head"] == 1e-3 and row["name"] == "smoke"
