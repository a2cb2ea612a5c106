"""Classical OpenCV pipelines that return the course's own prediction types (Module 6).

>>> import numpy as np
>>> from coursekit.classical import PoseEstimator
>>> PoseEstimator().predict(np.zeros((1, 64, 64, 3), np.uint8)).found.tolist()   # blank: "not found"
[False]
"""
from .base import ClassicalPipeline
from .frames import FrameError, check_frame, check_frames, is_blank
from .geometry import PoseEstimator, moments_angle
from .holes import HoleCounter
from .keypoints import KeypointClassifier
from .poses import Poses, angle_error, evaluate_poses
from .scenes import FIXTURE, FIXTURE_MATERIALS, NUISANCES, PartScenes, nuisance_domain, render_parts
from .stages import Stages, show_stages
from .templates import TemplateClassifier

__all__ = ["ClassicalPipeline", "FrameError", "check_frame", "check_frames", "is_blank",
           "PoseEstimator", "moments_angle", "HoleCounter", "KeypointClassifier", "TemplateClassifier",
           "Poses", "angle_error", "evaluate_poses", "Stages", "show_stages", "FIXTURE", "FIXTURE_MATERIALS",
           "NUISANCES", "PartScenes", "nuisance_domain", "render_parts", "CLASSICAL_SETTINGS", "classical_setting"]

#: Notebook 06's sizes per run profile. ``n_test``: test scenes; ``ks``: labels for the pose CNN; ``steps``: the
#: small CNNs' training steps; ``tiny_steps``: the tiny-data classifier's; ``count_labels``: labels for the
#: counting models; ``sweep`` / ``n_sweep``: nuisance strengths, scenes per strength; ``tol_deg``: the pose
#: tolerance; ``yolo_epochs``: the hole detector's epochs.
CLASSICAL_SETTINGS: dict[str, dict] = {
    "full": dict(n_test=300, ks=(20, 100, 1000), steps=1500, tiny_steps=200, count_labels=1000,
                 sweep=(0.0, 0.25, 0.5, 0.75, 1.0), n_sweep=150, tol_deg=3.0, yolo_epochs=60),
    "smoke": dict(n_test=60, ks=(20, 100, 300), steps=300, tiny_steps=30, count_labels=300,
                  sweep=(0.0, 0.25, 0.5, 0.75, 1.0), n_sweep=30, tol_deg=3.0, yolo_epochs=3),
}


def classical_setting(S=None) -> dict:
    """This run's row of :data:`CLASSICAL_SETTINGS` (by the profile), with its ``name``."""
    from ..config import module_setting

    return module_setting(CLASSICAL_SETTINGS, S)
