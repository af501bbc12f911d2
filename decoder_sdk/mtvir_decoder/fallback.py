"""``SafeEnhancer``: what a player holds. It enhances when the EL applies to the video and otherwise hands the
base-layer frames back untouched, after one ``MtvirWarning`` that says why: playback never breaks on an EL."""
from __future__ import annotations

import os
import warnings

import numpy as np

from .enhance import Enhancer
from .errors import InputMismatchError, MtvirError, MtvirWarning


class SafeEnhancer:
    """``SafeEnhancer(el, width=, height=, bit_depth=, frame_count=)``: ``el`` is a path, bytes or None (no EL).

    The video facts, when given, are checked against the EL at once, so a mismatched EL is refused before the
    first frame rather than half-way. ``active`` tells whether frames are being enhanced, ``reason`` why not.
    """

    def __init__(self, el: str | os.PathLike | bytes | None, *, width: int | None = None,
                 height: int | None = None, bit_depth: int | None = None, frame_count: int | None = None,
                 **enhancer_options):
        self.enhancer: Enhancer | None = None
        self.reason: str | None = None
        if el is None:
            self._fall_back("no EL: playing the base layer alone")
            return
        try:
            enhancer = Enhancer(el, **enhancer_options)
            info = enhancer.el
            if width is not None and height is not None:
                info.check_frame(height, width, bit_depth or info.bit_depth)
            if frame_count and info.frame_count and frame_count != info.frame_count:
                raise InputMismatchError(f"the video has {frame_count} frames, the EL was made for "
                                         f"{info.frame_count}")
            self.enhancer = enhancer
        except MtvirError as exc:
            self._fall_back(f"EL not used, playing the base layer alone: {exc}")

    @property
    def active(self) -> bool:
        return self.enhancer is not None

    def _fall_back(self, reason: str) -> None:
        self.enhancer, self.reason = None, reason
        warnings.warn(reason, MtvirWarning, stacklevel=3)

    def enhance_frame(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, frame_index: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The enhanced (Y, U, V): a failure on chroma drops the chroma models alone (luma goes on), one on luma
        the whole EL."""
        out = self.enhance(y, frame_index)
        if self.enhancer is None or not self.enhancer.chroma:
            return out, u, v
        try:
            return (out, *self.enhancer.enhance_chroma(y, u, v, frame_index))
        except MtvirError as exc:
            self.enhancer.chroma = {}
            warnings.warn(f"chroma models dropped at frame {frame_index}, chroma plays as decoded: {exc}", MtvirWarning,
                          stacklevel=2)
            return out, u, v

    def enhance(self, luma: np.ndarray, frame_index: int | None = None) -> np.ndarray:
        """The enhanced plane, or ``luma`` itself when the EL is not in use (or fails on this frame)."""
        if self.enhancer is None:
            return luma
        try:
            return self.enhancer.enhance(luma, frame_index)
        except MtvirError as exc:
            self._fall_back(f"EL dropped at frame {frame_index}, playing the base layer alone: {exc}")
            return luma
