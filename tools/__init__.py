"""Build-time scripts: what made the files shipped in ``datasets/`` (datasets and stand-in weights), and
maintainers' helpers. The runtime package ``coursekit`` imports none of this (``tests/test_packaging.py``).

Run them from the repository root, e.g. ``python -m tools.build_inspection_dataset``; tests import them
(``from tools.build_clip_standin import train_clip_standin``).
"""
