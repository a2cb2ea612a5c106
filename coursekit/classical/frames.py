"""Check a frame before OpenCV sees it: one clear error that names the problem and the fix.

>>> import numpy as np
>>> check_frame(np.zeros((8, 8, 3), np.uint8)).shape
(8, 8, 3)
>>> check_frame(np.zeros((3, 8, 8), np.uint8))
Traceback (most recent call last):
...
coursekit.classical.frames.FrameError: frame has shape (3, 8, 8): channels first (PyTorch's C, H, W). Fix: frame.transpose(1, 2, 0) (or tensor.permute(1, 2, 0).numpy())
>>> is_blank(np.zeros((8, 8, 3), np.uint8))
True
"""
from __future__ import annotations

import numpy as np

__all__ = ["FrameError", "check_frame", "check_frames", "is_blank", "to_gray", "BLANK_STD"]

BLANK_STD = 2.0
"""Grey-level std (0-255) below which a frame holds nothing to measure (lens cap): pipelines say "not found"."""


class FrameError(ValueError):
    """The frame cannot be processed as given; the message says why and how to fix it."""


def check_frame(frame, expected_size: tuple[int, int] | None = None, what: str = "frame") -> np.ndarray:
    """Validate one image; return it as a C-contiguous uint8 (H, W, 3) RGB array."""
    if hasattr(frame, "detach"):
        raise FrameError(f"{what} is a torch tensor; pass a numpy uint8 (H, W, 3) array. "
                         "Fix: tensor.permute(1, 2, 0).mul(255).byte().cpu().numpy() for a (3, H, W) float tensor")
    if not isinstance(frame, np.ndarray):
        raise FrameError(f"{what} is a {type(frame).__name__}, not a numpy array. "
                         "Fix: np.asarray(PIL.Image.open(path).convert('RGB')) or cv2.imread + cv2.cvtColor(BGR2RGB)")
    if frame.size == 0:
        raise FrameError(f"{what} is empty (shape {frame.shape}): the camera returned no pixels. "
                         "Fix: check the capture (cv2.VideoCapture.read() returns ok=False) before calling the pipeline")
    if frame.dtype != np.uint8:
        if frame.dtype.kind == "f":
            hi = float(np.nanmax(frame))
            fix = ("(frame * 255).round().astype(np.uint8)" if hi <= 1.0 else
                   "np.clip(frame, 0, 255).astype(np.uint8)")
            raise FrameError(f"{what} has dtype {frame.dtype} (max {hi:.3g}); the pipelines expect uint8 levels "
                             f"0-255. Fix: {fix}")
        if frame.dtype == np.uint16:
            raise FrameError(f"{what} has dtype uint16 (a 16-bit camera?); expected uint8. "
                             "Fix: (frame >> 8).astype(np.uint8), or scale by the sensor's bit depth")
        raise FrameError(f"{what} has dtype {frame.dtype}; expected uint8 levels 0-255. Fix: frame.astype(np.uint8) "
                         "after checking its range")
    if frame.ndim == 3 and frame.shape[0] in (1, 3, 4) and frame.shape[-1] not in (1, 3, 4):
        raise FrameError(f"{what} has shape {frame.shape}: channels first (PyTorch's C, H, W). "
                         "Fix: frame.transpose(1, 2, 0) (or tensor.permute(1, 2, 0).numpy())")
    if frame.ndim == 3 and frame.shape[-1] == 4:
        raise FrameError(f"{what} has 4 channels (RGBA or BGRA); expected RGB. "
                         "Fix: frame[..., :3] for RGBA, cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB) for OpenCV's BGRA")
    if frame.ndim == 3 and frame.shape[-1] == 1:
        frame = frame[..., 0]
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    if frame.ndim != 3 or frame.shape[-1] != 3:
        hint = " (a batch? pass one frame, or call predict(list_of_frames))" if frame.ndim == 4 else ""
        raise FrameError(f"{what} has shape {frame.shape}; expected (H, W, 3) RGB or (H, W) grey{hint}")
    if min(frame.shape[:2]) < 8:
        raise FrameError(f"{what} is {frame.shape[0]}x{frame.shape[1]} pixels; at least 8x8 is needed")
    if expected_size is not None and tuple(frame.shape[:2]) != tuple(expected_size):
        h, w = expected_size
        raise FrameError(f"{what} is {frame.shape[0]}x{frame.shape[1]} (H x W) but this pipeline was tuned on "
                         f"{h}x{w} frames (its pixel sizes and tolerances assume that scale). Fix: "
                         f"cv2.resize(frame, ({w}, {h}), interpolation=cv2.INTER_AREA), or build the pipeline "
                         "with expected_size=None and retune its pixel parameters")
    return np.ascontiguousarray(frame)


def check_frames(frames, expected_size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """:func:`check_frame` on each of a list of frames or an (N, H, W, 3) array; errors name the index."""
    if isinstance(frames, np.ndarray) and (frames.ndim == 2 or frames.ndim == 3 and frames.shape[-1] in (1, 3, 4)):
        raise FrameError(f"predict takes a batch: an (N, H, W, 3) array or a list of frames; got one frame "
                         f"of shape {frames.shape}. Fix: predict([frame]) or predict(frame[None])")
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        raise FrameError(f"got an array of shape {frames.shape}: a batch of grey frames? Fix: predict(list(frames)) "
                         "or frames[..., None]; for one colour frame, predict([frame])")
    if isinstance(frames, np.ndarray) and frames.ndim == 4 or isinstance(frames, (list, tuple)):
        return [check_frame(f, expected_size, what=f"frame {i}") for i, f in enumerate(frames)]
    raise FrameError(f"predict takes an (N, H, W, 3) uint8 array or a list of frames; got {type(frames).__name__}")


def is_blank(frame: np.ndarray, min_std: float = BLANK_STD) -> bool:
    """True when the frame holds (almost) one grey level: all black, all white, lens cap."""
    return float(to_gray(frame).std()) < min_std


def to_gray(frame: np.ndarray) -> np.ndarray:
    """uint8 (H, W) grey levels of a checked RGB frame (OpenCV's weights)."""
    import cv2

    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
