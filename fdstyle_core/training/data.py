"""Training batches: random square crops of content photos, prepared on one background thread.

No DataLoader worker processes: on Windows they re-import the parent (which can respawn OBS when
training is started from there), and OpenCV decodes and resizes with the GIL released, so one
thread makes ~1,000 crops/s; two keep up with a fast GPU (~500 images/s).  Decoded photos are cached (the training set is small and re-read
~100 times per run).
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import cv2
import numpy as np
import torch

from fdstyle_core.errors import FdstyleError
from fdstyle_core.io.video import is_image_path, read_image

# A crop covers 1/U(1, MAX_ZOOM) of the photo's shorter side: a little scale jitter.
MAX_ZOOM = 1.25


def list_images(folder: Path) -> list[Path]:
    """The image files directly inside ``folder``, sorted so that runs are reproducible."""
    if not folder.is_dir():
        raise FdstyleError(f"content folder not found: {folder}")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))
    if not paths:
        raise FdstyleError(f"no images in content folder {folder}")
    return paths


def random_crop(image: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
    """A ``crop``² RGB crop at a slightly random scale, mirrored half of the time.

    The square window is cut from the photo first and only the window is resized: resizing whole
    photos made one thread too slow to feed a GPU.
    """
    height, width = image.shape[:2]
    side = max(1, round(min(height, width) / rng.uniform(1.0, MAX_ZOOM)))
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    window = image[top : top + side, left : left + side]
    if side != crop:
        # Linear is several times faster than area averaging and alias-free below 1.5× reduction.
        interpolation = cv2.INTER_AREA if side > 1.5 * crop else cv2.INTER_LINEAR
        window = cv2.resize(window, (crop, crop), interpolation=interpolation)
    return np.ascontiguousarray(window[:, ::-1] if rng.random() < 0.5 else window)


class ContentBatches:
    """An endless stream of ``uint8`` NCHW batches; each thread uses every photo once per shuffled epoch."""

    def __init__(
        self, paths: list[Path], crop: int, batch_size: int, seed: int, threads: int = 2, prefetch: int = 8
    ) -> None:
        if not paths:
            raise FdstyleError("no training images left (the preview photo was the only one)")
        self.paths = list(paths)
        self.crop = crop
        self.batch_size = batch_size
        self._cache: dict[Path, np.ndarray] = {}
        self._queue: queue.Queue[torch.Tensor | BaseException] = queue.Queue(maxsize=prefetch)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._produce, args=(np.random.default_rng([seed, i]),), name=f"fdstyle-data-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def _image(self, path: Path) -> np.ndarray:
        image = self._cache.get(path)
        if image is None:
            image = self._cache[path] = read_image(path)
        return image

    def _produce(self, rng: np.random.Generator) -> None:
        try:
            order: list[Path] = []
            while not self._stop.is_set():
                crops = []
                for _ in range(self.batch_size):
                    if not order:
                        order = [self.paths[i] for i in rng.permutation(len(self.paths))]
                    crops.append(random_crop(self._image(order.pop()), self.crop, rng))
                batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
                while not self._stop.is_set():
                    try:
                        self._queue.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except BaseException as exc:  # handed to the training loop, which raises it there
            self._queue.put(exc)

    def next(self) -> torch.Tensor:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
