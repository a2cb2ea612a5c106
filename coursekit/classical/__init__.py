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
           "NUISANCES", "PartScenes", "nuisance_domain", "render_parts"]
