"""Where the image sets are, without importing torch (``course-grade`` asks before any kernel runs).

``$COURSE_DATA_DIR`` names the offline ``shared/data`` folder (or one set's folder in it),
``$COURSE_DATA_ROOT`` where torchvision keeps downloads, ``$COURSE_OFFLINE=1`` forbids downloads,
``$COURSE_MODEL_CACHE`` where DeepDream's offline classifier is cached.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

#: Environment variables the loaders read.
ENV_OFFLINE = "COURSE_OFFLINE"
ENV_DATA_DIR = "COURSE_DATA_DIR"
ENV_DATA_ROOT = "COURSE_DATA_ROOT"
ENV_MODEL_CACHE = "COURSE_MODEL_CACHE"


def _candidates(start: Path) -> Iterator[Path]:
    for folder in (start, *start.parents):
        yield folder / "shared" / "data"


def find_shared_data(subdir: str, data_dir: str | os.PathLike | None = None) -> tuple[Path | None, list[Path]]:
    """The folder holding ``subdir`` (e.g. ``fashion_mnist_2k``), and every place looked at.

    ``data_dir`` (or ``$COURSE_DATA_DIR``) may name the ``shared/data`` folder
    or the ``subdir`` folder itself; otherwise ``shared/data`` is searched in
    the working directory and every folder above it, then above this package.
    """
    looked: list[Path] = []
    explicit = data_dir if data_dir is not None else os.environ.get(ENV_DATA_DIR) or None
    if explicit is not None:
        base = Path(explicit).expanduser()
        for folder in (base / subdir, base):
            looked.append(folder)
            if folder.name == subdir and folder.is_dir():
                return folder, looked
        return None, looked
    seen = set()
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for shared in _candidates(start):
            folder = shared / subdir
            if folder in seen:
                continue
            seen.add(folder)
            looked.append(folder)
            if folder.is_dir():
                return folder, looked
    return None, looked


def default_root() -> Path:
    """Where torchvision keeps downloads: ``$COURSE_DATA_ROOT``, else
    ``~/.cache/course_lib/data`` -- outside the assignment folder, so that the
    images are downloaded once and never submitted with the notebooks."""
    env = os.environ.get(ENV_DATA_ROOT, "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "course_lib" / "data"


def model_cache() -> Path:
    """Where trained models are cached: ``$COURSE_MODEL_CACHE``, else ``models/`` beside
    :func:`default_root`."""
    return Path(os.environ.get(ENV_MODEL_CACHE, "") or default_root().parent / "models")


def _offline_forced() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}
