"""Frame sources (video files, frame folders, images, cameras, the screen) and frame sinks.

Every source yields RGB uint8 frames.  Sinks write to a temporary name and move it into place
only when closed after success, so an interrupted or failed run never leaves a truncated file
that looks complete.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator, Protocol

import cv2
import numpy as np

from fdstyle_core.errors import FdstyleError

# OpenCV and FFmpeg print their own complaints about broken files and absent cameras to stderr;
# we report those problems in one line instead.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # no "can't open camera" warnings

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
DEFAULT_FPS = 30.0
_SCREEN = re.compile(r"^screen(?::(\d+),(\d+),(\d+),(\d+))?$")


class FrameSource(Protocol):
    fps: float
    live: bool  # a camera or the screen: frames come in real time, not from storage

    @property
    def frame_count(self) -> int | None: ...  # None for live sources

    def frames(self) -> Iterator[np.ndarray]: ...

    def close(self) -> None: ...


def _rgb(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    if bgr.shape[2] == 4:
        return cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def resized(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """``frame`` at width×height: area-averaged where it shrinks (a bilinear shrink aliases fine
    texture into a shimmer the frame difference sees as motion), bilinear where it grows.

    A shrink averages whole pixel blocks first where a whole factor fits (700×700 → 320×240 takes
    2×2 blocks, then the rest): OpenCV averages whole factors several times faster than others.
    """
    frame_height, frame_width = frame.shape[:2]
    if (frame_width, frame_height) == (width, height):
        return frame
    if width >= frame_width and height >= frame_height:
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
    if width > frame_width or height > frame_height:  # one side grows, the other shrinks: one at a time
        return resized(resized(frame, min(width, frame_width), min(height, frame_height)), width, height)
    step_x, step_y = frame_width // width, frame_height // height
    if (step_x > 1 or step_y > 1) and frame_width % step_x == 0 and frame_height % step_y == 0:
        frame = cv2.resize(frame, (frame_width // step_x, frame_height // step_y), interpolation=cv2.INTER_AREA)
        if frame.shape[:2] == (height, width):
            return frame
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FdstyleError(f"cannot read image {path}")
    if image.dtype != np.uint8:  # 16-bit PNGs and the like
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(1, int(image.max())))
    return _rgb(image)


def natural_key(path: Path) -> list[int | str]:
    """Sort key that puts frame2 before frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


@dataclass
class ImageFolder:
    """A folder of frames, read in natural name order (CDnet's ``in000001.jpg`` …)."""

    paths: list[Path]
    fps: float = DEFAULT_FPS
    live = False

    @classmethod
    def open(cls, folder: Path) -> "ImageFolder":
        paths = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=natural_key)
        if not paths:
            raise FdstyleError(f"no image frames in folder {folder}")
        return cls(paths)

    @property
    def frame_count(self) -> int:
        return len(self.paths)

    def frames(self) -> Iterator[np.ndarray]:
        for path in self.paths:
            yield read_image(path)

    def close(self) -> None:
        """Nothing held open."""


class VideoCapture:
    """A video file or a camera through OpenCV."""

    def __init__(self, target: str | int, live: bool) -> None:
        self._cap = cv2.VideoCapture(target)
        self.live = live
        kind = "camera" if live else "video"
        if not self._cap.isOpened():
            raise FdstyleError(f"cannot open {kind} {target}")
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = None if live or count <= 0 else count
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 1 <= fps <= 240 else DEFAULT_FPS
        self._first = self._read()
        if self._first is None:
            raise FdstyleError(f"{kind} {target} has no readable frames")

    def _read(self) -> np.ndarray | None:
        ok, frame = self._cap.read()
        return _rgb(frame) if ok and frame is not None else None

    def frames(self) -> Iterator[np.ndarray]:
        frame = self._first
        while frame is not None:
            yield frame
            frame = self._read()

    def close(self) -> None:
        self._cap.release()


class ScreenCapture:
    """A screen region grabbed with ``mss`` (``screen`` = the first monitor)."""

    frame_count: int | None = None
    live = True

    def __init__(self, region: tuple[int, int, int, int] | None, fps: float = DEFAULT_FPS) -> None:
        try:
            import mss
        except ImportError:
            raise FdstyleError("screen capture needs the 'mss' package: pip install mss") from None
        try:
            self._grabber = mss.mss()
            monitor = self._grabber.monitors[1 if len(self._grabber.monitors) > 1 else 0]
        except Exception as exc:
            raise FdstyleError(f"cannot capture the screen: {exc}") from None
        if region is not None:
            x, y, w, h = region
            monitor = {"left": x, "top": y, "width": w, "height": h}
        self._monitor = monitor
        self.fps = fps

    def frames(self) -> Iterator[np.ndarray]:
        while True:
            try:
                shot = np.asarray(self._grabber.grab(self._monitor))
            except Exception as exc:
                raise FdstyleError(f"screen capture failed: {exc}") from None
            yield cv2.cvtColor(shot, cv2.COLOR_BGRA2RGB)

    def close(self) -> None:
        self._grabber.close()


@dataclass
class SingleImage:
    image: np.ndarray
    fps: float = DEFAULT_FPS
    frame_count: int = 1
    live = False

    def frames(self) -> Iterator[np.ndarray]:
        yield self.image

    def close(self) -> None:
        """Nothing held open."""


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def open_source(spec: str) -> FrameSource:
    """Interpret INPUT: a file, a folder of frames, an image, a camera index, or ``screen[:X,Y,W,H]``."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolder.open(path)
    if path.is_file():
        if is_image_path(path):
            return SingleImage(read_image(path))
        return VideoCapture(str(path), live=False)
    if spec.isdigit():
        return VideoCapture(int(spec), live=True)
    screen = _SCREEN.match(spec)
    if screen:
        region = tuple(int(v) for v in screen.groups()) if screen.group(1) else None
        if region is not None and (region[2] <= 0 or region[3] <= 0):
            raise FdstyleError(f"screen region {spec} has no area")
        return ScreenCapture(region)  # type: ignore[arg-type]
    raise FdstyleError(f"input not found: {spec} (a video, a folder of frames, an image, a camera index or 'screen')")


def frame_at(spec: str | Path, index: int) -> np.ndarray:
    """Frame ``index`` (from 0) of a video, frame folder or image, RGB."""
    source = open_source(str(spec))
    try:
        frame = next(islice(source.frames(), index, None), None)
    finally:
        source.close()
    if frame is None:
        raise FdstyleError(f"{spec} has no frame {index}")
    return frame


def parse_size(text: str) -> tuple[int, int]:
    """``WxH`` → (width, height), both positive."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise FdstyleError(f"bad size '{text}': expected WIDTHxHEIGHT, e.g. 640x480")
    return int(match.group(1)), int(match.group(2))


class FrameSink:
    """Writes frames to a video, an image or a folder of PNGs; atomic on :meth:`commit`."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps
        self.count = 0
        self._writer: cv2.VideoWriter | None = None
        self._kind = "image" if is_image_path(self.path) else "video" if self.path.suffix else "folder"
        if self._kind == "video" and self.path.suffix.lower() not in VIDEO_FOURCC:
            raise FdstyleError(f"unsupported video type '{self.path.suffix}' (use {', '.join(VIDEO_FOURCC)})")
        parent = self.path.parent
        if not parent.exists():
            raise FdstyleError(f"output folder does not exist: {parent}")
        if self._kind == "folder" and self.path.exists():
            raise FdstyleError(f"output folder already exists: {self.path}")  # before the work, not after
        suffix = self.path.suffix if self._kind != "folder" else ""
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=f".part{suffix}", dir=parent)
        os.close(fd)
        self._tmp = Path(tmp)
        if self._kind == "folder":
            self._tmp.unlink()
            self._tmp.mkdir()

    @property
    def keeps_time(self) -> bool:
        """Whether frames are shown at the sink's rate (a video), so that how many there are is how long it lasts."""
        return self._kind == "video"

    def write(self, frame: np.ndarray, times: int = 1) -> None:
        """Write ``frame``, ``times`` times over in a video (a painting held for several source frames)."""
        if times != 1 and not self.keeps_time:
            raise FdstyleError("only a video holds a frame for several")
        bgr = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else cv2.cvtColor(frame[:, :, :3], cv2.COLOR_RGB2BGR)
        if self._kind == "image":
            if self.count:
                raise FdstyleError("an image output takes exactly one frame")
            if not cv2.imwrite(str(self._tmp), bgr):
                raise FdstyleError(f"cannot write image {self.path}")
        elif self._kind == "folder":
            cv2.imwrite(str(self._tmp / f"{self.count:06d}.png"), bgr)
        else:
            if self._writer is None:
                fourcc = cv2.VideoWriter_fourcc(*VIDEO_FOURCC[self.path.suffix.lower()])
                self._writer = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, (bgr.shape[1], bgr.shape[0]))
                if not self._writer.isOpened():
                    raise FdstyleError(f"cannot write video {self.path}")
            for _ in range(times):
                self._writer.write(bgr)
        self.count += times

    def commit(self) -> None:
        """Finish writing and move the result into place."""
        if self._writer is not None:
            self._writer.release()
        if self.count == 0:
            self.discard()
            raise FdstyleError("no frames were produced")
        if self._kind == "folder" and self.path.exists():
            self.discard()
            raise FdstyleError(f"output folder already exists: {self.path}")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, (0o777 if self._kind == "folder" else 0o666) & ~umask)  # mkstemp made it private
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        """Remove the partial output (called on errors and interrupts)."""
        if self._writer is not None:
            self._writer.release()
        if self._tmp.is_dir():
            for child in self._tmp.iterdir():
                child.unlink()
            self._tmp.rmdir()
        elif self._tmp.exists():
            self._tmp.unlink()
