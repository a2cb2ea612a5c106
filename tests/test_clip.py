"""CLIP for Module 4 (coursekit.models.clip): the real-weights path (offline-safe), the zero-shot API checked by
hand, the stand-in's weights file, its deterministic rebuild, and what the shipped stand-in measurably does."""
from __future__ import annotations

import hashlib
import json
import shutil
import socket
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

open_clip = pytest.importorskip("open_clip")

from coursekit.assets import Asset, AssetUnavailable, asset_path  # noqa: E402
from coursekit.data.inspection import INSPECTION_CLASSES, INSPECTION_PARTS, plan_sample  # noqa: E402
from coursekit.models import clip as ckclip  # noqa: E402
from coursekit.models.clip import (CLIP_MODELS, DEFECT_CLASS_NAMES, ENSEMBLE_TEMPLATES,  # noqa: E402
                                   PART_CLASS_NAMES, SINGLE_TEMPLATE, build_tiny_clip, clip_model,
                                   encode_images, encode_texts, standin_clip_model, unpack_state, zero_shot,
                                   zero_shot_classifier)
from coursekit.config import Settings  # noqa: E402
from coursekit.models.registry import Loaded  # noqa: E402
from coursekit.types import Classifications  # noqa: E402
from tools.build_clip_standin import (HELDOUT_PAIRS, ClipRecipe, caption, evaluate_zero_shot,  # noqa: E402
                                      pack_state, render_caption_set, standin_vocabulary, train_clip_standin)

SHIPPED = Path(__file__).resolve().parents[1] / "datasets" / "clip_standin"
# the shipped recipe's kind of model (ResNet-9 image tower from Module 2's stand-in, partly locked), tiny and fast
TINY = ClipRecipe(scenes=16, epochs=1, batch_size=8, image_size=32, text_width=32, text_layers=1, embed_dim=16,
                  eval_scenes=12)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def standin() -> Loaded:
    return standin_clip_model()


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    from coursekit.data.inspection import render_inspection_sample

    return np.stack([render_inspection_sample(i, "test", 0)[0] for i in range(6)])


# --- the asset entries and the real-weights path ----------------------------------------------------------------

def test_asset_entries_are_complete_and_match_the_models():
    for name in {spec.asset for spec in CLIP_MODELS.values()}:
        asset = ckclip.ASSETS[name]
        assert asset.name == name and asset.url.startswith("https://huggingface.co/laion/")
        assert asset.size > 500_000_000 and "MIT" in asset.licence
        # open_clip picks its loader by the file's suffix (safetensors vs torch.load)
        assert Path(asset.filename).suffix == Path(asset.url).suffix
    for name, spec in CLIP_MODELS.items():
        assert spec.arch == name and spec.pretrained_tag in open_clip.list_pretrained_tags_by_model(name)
        assert open_clip.get_model_config(name) is not None


def test_the_tokenizer_is_offline_and_the_real_one(no_network):
    tok = open_clip.get_tokenizer("ViT-B-32")  # what real_clip_model uses
    assert isinstance(tok, open_clip.SimpleTokenizer)
    ids = tok(["a photo of a washer.", "a photo of a part with a crack."])
    assert ids.shape == (2, 77) and ids.dtype == torch.long
    assert (ids[:, 0] == tok.sot_token_id).all()
    assert ids[0].tolist().index(tok.eot_token_id) == len(tok.encode("a photo of a washer.")) + 1
    assert tok.decode(ids[0].tolist()).startswith("<start_of_text>a photo of a washer .")
    # the stand-in's tokenizer is the same class with the same BPE vocabulary, only a shorter context
    small = open_clip.SimpleTokenizer(context_length=24)
    assert small(["a photo of a washer."])[0, :8].tolist() == ids[0, :8].tolist()


@pytest.fixture
def fake_real_clip(tmp_path, monkeypatch):
    """A tiny open_clip architecture registered under a name, with a 'downloaded' weights file already in the
    cache, standing for ViT-B-32: exercises real_clip_model's loading path without a 600 MB file."""
    cfg = ClipRecipe(vision="open_clip", image_size=32, patch_size=16, vision_width=32, vision_layers=1,
                     text_width=32, text_layers=1, embed_dim=16, context_length=16).model_config()
    assert "tower" not in cfg["vision_cfg"]  # a plain open_clip config
    cfg_dir = tmp_path / "configs"
    cfg_dir.mkdir()
    (cfg_dir / "coursekit-test-tiny-clip.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(cfg_dir)
    torch.manual_seed(0)
    model = build_tiny_clip(cfg)
    weights = tmp_path / "w.bin"
    torch.save(model.state_dict(), weights)
    asset = Asset(name="test-tiny-clip", url="http://127.0.0.1:9/never-downloaded.bin",
                  sha256=_sha256(weights), size=weights.stat().st_size, filename="w.bin",
                  licence="MIT", used_by=("tests",))
    home = tmp_path / "home"
    dest = asset_path(asset, home)
    dest.parent.mkdir(parents=True)
    shutil.copy(weights, dest)
    monkeypatch.setitem(ckclip.ASSETS, "test-tiny-clip", asset)
    monkeypatch.setitem(ckclip.CLIP_MODELS, "coursekit-test-tiny-clip",
                        ckclip.ClipSpec("coursekit-test-tiny-clip", "test", "test-tiny-clip", 0.0, "a test"))
    return Settings(profile="full", device="cpu", seed=0, home=home, offline=True), model


def test_real_path_loads_the_cached_file_with_open_clip_and_no_network(fake_real_clip, no_network, capsys):
    S, original = fake_real_clip
    clip = clip_model(S, name="coursekit-test-tiny-clip", progress=False)
    assert not clip.is_standin and "STAND-IN" not in capsys.readouterr().out
    got, want = clip.model.state_dict(), original.state_dict()
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)
    assert clip.info["weights"].endswith("w.bin") and clip.info["embed_dim"] == 16 and clip.info["image_size"] == 32
    assert isinstance(clip.tokenizer, open_clip.SimpleTokenizer) and clip.tokenizer.context_length == 16
    emb = encode_images(clip.model, clip.preprocess, np.zeros((2, 50, 70, 3), np.uint8))
    assert emb.shape == (2, 16)


def test_unknown_model_name_is_refused(home):
    with pytest.raises(ValueError, match="ViT-B-32"):
        clip_model(Settings(profile="smoke", device="cpu", seed=0, home=home, offline=True), name="ViT-Z-99")


@pytest.fixture
def offline(home, monkeypatch):
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    monkeypatch.delenv("COURSEKIT_STANDINS", raising=False)
    return lambda profile: Settings(profile=profile, device="cpu", seed=0, home=home, offline=True)


def test_offline_smoke_gets_the_announced_standin(offline, capsys):
    clip = clip_model(offline("smoke"), progress=False)
    assert clip.is_standin and Path(clip.info["weights"]).parent.name == "clip_standin"
    out = capsys.readouterr().out
    assert "STAND-IN" in out and "tiny CLIP" in out
    assert isinstance(clip, Loaded) and clip.name == clip.info["name"] and clip.weights == clip.info["weights"]
    assert clip.is_standin and isinstance(clip.tokenizer, open_clip.SimpleTokenizer)


def test_offline_full_stops_unless_standins_are_allowed(offline, monkeypatch, capsys):
    with pytest.raises(AssetUnavailable) as err:
        clip_model(offline("full"), progress=False)
    msg = str(err.value)
    assert "COURSEKIT_STANDINS" in msg and "coursekit fetch clip-vit-b-32-laion2b" in msg
    assert ckclip.ASSETS["clip-vit-b-32-laion2b"].url in msg
    assert err.value.reason == "COURSEKIT_OFFLINE is set"
    assert "STAND-IN" not in capsys.readouterr().out  # no silent (or loud) fallback
    monkeypatch.setenv("COURSEKIT_STANDINS", "1")
    clip = clip_model(offline("full"), name="ViT-B-16", progress=False)
    assert clip.is_standin and "STAND-IN" in capsys.readouterr().out


# --- the zero-shot API, checked by hand -------------------------------------------------------------------------

def test_embeddings_have_the_right_shape_and_unit_norm(standin, images):
    model, preprocess, tokenizer = standin.model, standin.preprocess, standin.tokenizer
    d = standin.info["embed_dim"]
    img = encode_images(model, preprocess, images, batch_size=4)  # two batches, the last one short
    assert img.shape == (len(images), d) and img.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1, atol=1e-5)
    # a list of images of other sizes is resized by the preprocessing; one batch or many gives the same
    mixed = [images[0], np.ascontiguousarray(np.repeat(np.repeat(images[1], 2, 0), 2, 1))]
    assert encode_images(model, preprocess, mixed).shape == (2, d)
    np.testing.assert_allclose(encode_images(model, preprocess, images, batch_size=64), img, atol=1e-5)
    # by hand: preprocess, encode_image, normalise
    with torch.no_grad():
        from PIL import Image

        x = torch.stack([preprocess(Image.fromarray(im)) for im in images])
        ref = torch.nn.functional.normalize(model.encode_image(x), dim=-1).numpy()
    np.testing.assert_allclose(img, ref, atol=1e-5)
    txt = encode_texts(model, tokenizer, ["a photo of a washer.", "a photo of a gear.", "a picture of a hinge."])
    assert txt.shape == (3, d)
    np.testing.assert_allclose(np.linalg.norm(txt, axis=1), 1, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        encode_images(model, preprocess, images[0])
    with pytest.raises(TypeError):
        encode_texts(model, tokenizer, "a photo of a washer.")


def test_zero_shot_logits_are_scale_times_image_dot_text(standin, images):
    model, preprocess, tokenizer = standin.model, standin.preprocess, standin.tokenizer
    names = list(PART_CLASS_NAMES)
    pred = zero_shot(model, preprocess, tokenizer, images, names, SINGLE_TEMPLATE)
    assert isinstance(pred, Classifications) and pred.class_names == names and pred.probs.shape == (6, 6)
    # by hand from the embeddings: logits = exp(logit_scale) * image @ text.T, then a softmax
    img = encode_images(model, preprocess, images)
    txt = encode_texts(model, tokenizer, [f"a photo of a {c}." for c in names])
    scale = float(model.logit_scale.detach().exp())
    assert 1 < scale <= 100
    logits = scale * img.astype(np.float64) @ txt.T.astype(np.float64)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    np.testing.assert_allclose(pred.probs, probs, atol=1e-4)
    assert pred.labels.tolist() == logits.argmax(1).tolist()
    # precomputed image embeddings give the same answer without the images
    again = zero_shot(model, preprocess, tokenizer, None, names, SINGLE_TEMPLATE, image_features=img)
    np.testing.assert_allclose(again.probs, pred.probs, atol=1e-6)
    # a dict label -> text keeps the labels as class names
    d = zero_shot(model, preprocess, tokenizer, None, DEFECT_CLASS_NAMES, SINGLE_TEMPLATE, image_features=img)
    assert d.class_names == list(INSPECTION_CLASSES)


def test_prompt_ensemble_is_the_renormalised_mean_of_normalised_embeddings(standin):
    model, tokenizer = standin.model, standin.tokenizer
    names = ["washer", "part with a crack"]
    templates = list(ENSEMBLE_TEMPLATES[:3])
    got = zero_shot_classifier(model, tokenizer, names, templates)
    assert got.shape == (2, standin.info["embed_dim"])
    with torch.no_grad():
        for c, row in zip(names, got):
            e = model.encode_text(tokenizer([t.format(c) for t in templates]))
            e = e / e.norm(dim=-1, keepdim=True)
            m = e.mean(0)
            np.testing.assert_allclose(row, (m / m.norm()).numpy(), atol=1e-5)
    one = zero_shot_classifier(model, tokenizer, names, SINGLE_TEMPLATE)
    np.testing.assert_allclose(one, encode_texts(model, tokenizer, [f"a photo of a {c}." for c in names]), atol=1e-6)
    with pytest.raises(ValueError, match="'{}'"):
        zero_shot_classifier(model, tokenizer, names, ["a photo of a thing."])


class _TwoVectors(torch.nn.Module):
    """A stub CLIP whose text embedding of prompt k is VECTORS[k]: norms that differ, to tell a mean of
    normalised embeddings from a normalised mean of raw ones."""

    VECTORS = torch.tensor([[10.0, 0.0], [0.0, 1.0]])

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def encode_text(self, tokens):
        return self.VECTORS[tokens[:, 0]]


def test_prompt_ensemble_normalises_each_prompt_before_averaging():
    prompts = {"a {}.": 0, "the {}.": 1}

    def tokenizer(texts):
        return torch.tensor([[prompts[t.replace("x", "{}")]] for t in texts])

    got = zero_shot_classifier(_TwoVectors(), tokenizer, ["x"], list(prompts))
    np.testing.assert_allclose(got, [[2 ** -0.5, 2 ** -0.5]], atol=1e-6)  # mean of unit vectors, renormalised
    # (the normalised mean of the raw embeddings would be [0.995, 0.0995]: the long vector would dominate)


# --- the stand-in's weights file ---------------------------------------------------------------------------------

def test_checkpoint_round_trip_with_weights_only(tmp_path):
    cfg = TINY.model_config()
    torch.manual_seed(1)
    model = build_tiny_clip(cfg)
    vocab = standin_vocabulary()
    with pytest.raises(ValueError, match="outside the vocabulary"):
        pack_state(model, vocab)  # random rows everywhere: packing would lose them
    with torch.no_grad():
        keep = torch.zeros(model.token_embedding.weight.shape[0], dtype=torch.bool)
        keep[vocab] = True
        model.token_embedding.weight[~keep] = 0
    torch.save(pack_state(model, vocab), tmp_path / "w.pt")
    packed = torch.load(tmp_path / "w.pt", map_location="cpu", weights_only=True)
    assert packed["token_embedding.rows"].tolist() == vocab
    assert all(v.dtype in (torch.float16, torch.int64) for v in packed.values())
    fresh = build_tiny_clip(cfg)
    fresh.load_state_dict(unpack_state(packed), strict=True)
    want = {k: v.half().float() for k, v in model.state_dict().items()}  # what float16 storage keeps
    got = fresh.state_dict()
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)
    assert (tmp_path / "w.pt").stat().st_size < 0.3 * sum(v.numel() * 4 for v in model.state_dict().values())


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A tiny stand-in, trained once for the module (a few seconds)."""
    return train_clip_standin(tmp_path_factory.mktemp("clip") / "s", TINY, progress=False)


@pytest.mark.slow
def test_train_writes_a_checked_folder_and_reloads(built):
    assert sorted(p.name for p in built.iterdir()) == ["README.md", "manifest.json", "tiny-clip-inspection.pt"]
    assert sorted(p.name for p in built.parent.iterdir()) == [built.name], "a temp or .old folder was left"
    assert stat.S_IMODE(built.stat().st_mode) == 0o755
    m = json.loads((built / "manifest.json").read_text())
    assert m["sha256"] == _sha256(built / m["weights"]) and m["size"] == (built / m["weights"]).stat().st_size
    assert m["recipe"]["heldout"] == [list(p) for p in HELDOUT_PAIRS] and m["licence"] == "MIT"
    assert m["data"]["train_images"] == sum(m["data"]["per_class"].values())
    for subset in ("heldout", "seen"):
        for task in ("part", "defect"):
            assert set(m["results"][subset][task]) == {"single", "ensemble"}
    readme = (built / "README.md").read_text()
    assert m["sha256"] in readme and "python -m tools.build_clip_standin" in readme and "MIT" in readme
    clip = standin_clip_model(built)
    assert clip.is_standin and clip.info["image_size"] == 32 and clip.info["embed_dim"] == 16
    assert clip.info["results"] == m["results"]


@pytest.mark.slow
def test_tiny_rebuild_is_deterministic_and_replaces_atomically(built, tmp_path):
    out = tmp_path / "s"
    shutil.copytree(built, out)
    (out / "stray.txt").write_text("from an older build")
    train_clip_standin(out, TINY, progress=False)
    assert _sha256(out / "tiny-clip-inspection.pt") == _sha256(built / "tiny-clip-inspection.pt"), \
        "the same recipe gave other weights"
    assert not (out / "stray.txt").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    a, b = (json.loads((d / "manifest.json").read_text()) for d in (built, out))
    for key in ("sha256", "results", "loss_per_epoch", "data"):
        assert a[key] == b[key], key


def test_a_changed_or_missing_weights_file_is_refused(built, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    standin_clip_model(copy)  # the untouched copy loads
    weights = copy / "tiny-clip-inspection.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError) as err:
        standin_clip_model(copy)
    msg = str(err.value)
    assert "sha256" in msg and "manifest" in msg and str(weights) in msg
    assert "git checkout" in msg and "python -m tools.build_clip_standin" in msg
    weights.unlink()
    with pytest.raises(FileNotFoundError, match="python -m tools.build_clip_standin"):
        standin_clip_model(copy)


# --- captions and the held-out pairs ------------------------------------------------------------------------------

def test_captions_use_only_the_vocabulary_and_fit_the_context():
    tok = open_clip.SimpleTokenizer(context_length=ClipRecipe.context_length)
    vocab = set(standin_vocabulary(tok))
    rng = np.random.default_rng(0)
    seen = set()
    for i in range(400):
        a = {"part": INSPECTION_PARTS[i % 6], "class": INSPECTION_CLASSES[i % 4], "lighting": "bright",
             "appearance": ("black oxide", "yellow zinc", "orange plastic")[i % 3]}
        text = caption(a, rng)
        ids = tok.encode(text)
        assert set(ids) <= vocab and len(ids) + 2 <= tok.context_length, text
        assert " a orange" not in text and " a aluminium" not in text
        seen.add(text)
    assert len(seen) > 150  # many different captions, not a handful of fixed ones
    for t in ENSEMBLE_TEMPLATES:  # every prompt the course uses is readable by the stand-in
        for c in list(PART_CLASS_NAMES) + list(DEFECT_CLASS_NAMES.values()):
            assert set(tok.encode(t.format(c))) <= vocab


def test_standin_tokenizer_warns_once_naming_an_unknown_word(standin):
    tok = standin.tokenizer
    assert isinstance(tok, open_clip.SimpleTokenizer) and tok.known_ids == frozenset(standin_vocabulary())
    assert tok.unknown_words("a close-up photo of a metal washer on a conveyor belt.") == [
        "metal", "on", "conveyor", "belt"]
    with pytest.warns(ckclip.UnknownWordWarning, match="'machined'"):
        ids = tok(["a photo of a machined washer.", "a photo of a machined gear."])
    plain = open_clip.SimpleTokenizer(context_length=tok.context_length)
    assert torch.equal(ids, plain(["a photo of a machined washer.", "a photo of a machined gear."]))  # same ids
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a known prompt, and a word already named: no new warning
        tok([t.format(c) for t in ENSEMBLE_TEMPLATES for c in PART_CLASS_NAMES])
        tok("a machined plate.")


def test_standin_info_says_what_it_read(standin):
    info = standin.info
    assert info["caption_templates"] == list(ENSEMBLE_TEMPLATES)  # the templates a prompt ensemble compares
    assert 20 < len(info["words"]) < 100 and set(PART_CLASS_NAMES) <= set(info["words"])  # a few dozen words
    assert info["training_images"] > 1000  # each with a caption written from one of those templates


def test_heldout_pairs_never_reach_training():
    held = {tuple(p) for p in HELDOUT_PAIRS}
    assert len({p for p, _ in held}) == 6  # every part keeps three of its four classes in training
    X, attrs = render_caption_set("train", 4242, 24, keep="train", size=32, progress=False)
    assert len(X) == len(attrs) and X.shape[1:] == (32, 32, 3)
    plans = [plan_sample(i, "train", 4242) for i in range(24)]
    assert [a["scene"] for a in attrs] == [i for i, p in enumerate(plans) if (p.part, p.label) not in held]
    assert not any(a["heldout"] or a["twin"] for a in attrs)
    _, every = render_caption_set("train", 4242, 24, keep="all", size=32, progress=False)
    assert len(every) == 24 and [a["heldout"] for a in every] == [(p.part, p.label) in held for p in plans]


def test_twins_follow_their_defect_and_respect_the_heldout_pairs():
    held = {tuple(p) for p in HELDOUT_PAIRS}
    X, attrs = render_caption_set("train", 4242, 40, keep="train", size=48, twins=True, progress=False)
    assert not any((a["part"], a["class"]) in held for a in attrs)
    twins = [k for k, a in enumerate(attrs) if a["twin"]]
    assert twins, "no twin in 40 scenes"
    for k in twins:
        a, b = attrs[k - 1], attrs[k]
        assert b["class"] == "ok" and a["class"] != "ok" and a["scene"] == b["scene"] and a["part"] == b["part"]
        differs = (X[k] != X[k - 1]).any(2).mean()
        assert 0 < differs < 0.5, f"a defect and its twin differ on {differs:.0%} of the pixels"
    # brackets never get a twin: (bracket, ok) is held out
    assert not any(attrs[k]["part"] == "bracket" for k in twins)
    # batching keeps a defect and its twin together
    from tools.build_clip_standin import _batches

    batches = _batches(attrs, 8, np.random.default_rng(0))
    assert len(np.concatenate(batches)) == len(set(np.concatenate(batches).tolist()))  # each image at most once
    for batch in batches:
        scenes = [attrs[i]["scene"] for i in batch]
        assert len(batch) in (7, 8)  # one short when the next pair would not fit
        for i in batch:
            if attrs[i]["twin"]:
                assert scenes.count(attrs[i]["scene"]) == 2


# --- what the shipped stand-in does (measured) --------------------------------------------------------------------

@pytest.mark.slow
def test_shipped_standin_beats_chance_on_heldout_pairs(standin):
    """Re-measured here on 480 test images (121 of held-out pairs), not read from the manifest. Measured when
    it was built: part type 83% on the held-out pairs, 94% on the others; defects 72% on the others and 27%
    (chance) on the held-out pairs, which is why no defect claim is made for those (see its README)."""
    X, attrs = render_caption_set("test", 0, 480, keep="all", size=standin.info["image_size"], progress=False)
    r = evaluate_zero_shot(standin, X, attrs)
    assert r["n"]["heldout"] >= 90
    # part type on (part, defect) pairs never seen in training: far above chance (1/6)
    assert r["heldout"]["part"]["ensemble"] >= 1 / 6 + 0.5, r
    assert r["seen"]["part"]["ensemble"] >= 1 / 6 + 0.6, r
    # defects: far above chance (1/4) on the (part, defect) pairs seen in training
    assert r["seen"]["defect"]["ensemble"] >= 1 / 4 + 0.3, r
