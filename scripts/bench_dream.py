"""Benchmark of notebook 07 (DeepDream): seconds per step and for a full octave run.

    .venv/bin/python scripts/bench_dream.py

Uses the notebook's reference solution (cells tagged ``nb07-defs``) with the
classifier ``load_classifier`` gives here (the digit CNN offline, GoogLeNet
with internet or cached weights; on a GPU when torch sees one), on a 224-pixel
image, plus the fallback model at its own dreaming size. Prints numbers,
asserts nothing.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import course_lib.dream as D  # noqa: E402
from course_lib.engine import load_cells  # noqa: E402


def main() -> None:
    ns = load_cells(ROOT / "source_notebooks" / "ps1" / "07_deepdream.ipynb", tags=("nb07-defs",),
                    given={name: getattr(D, name) for name in D.__all__} | {"torch": torch})
    gd, dream = ns["gradient_descent"], ns["dream"]
    for prefer in ("imagenet", "mnist"):
        clf = D.load_classifier(prefer=prefer, verbose=False)
        device = "CPU"
        for size in sorted({224, clf.size}):
            image = D.load_photo("chelsea", size, clf.channels)
            gd(image, clf, 0, steps=2)                          # warm-up
            t0 = time.perf_counter()
            gd(image, clf, 0, steps=10, clamp=True, blur_sigma=0.3)
            per_step = (time.perf_counter() - t0) / 10
            t0 = time.perf_counter()
            dream(image, clf, 0, octaves=4, scale=1.4, steps=30, clamp=True, blur_sigma=0.3)
            octave = time.perf_counter() - t0
            print(f"{clf.kind:9s} model on {device}, {size}×{size}: {per_step * 1e3:7.1f} ms per step; "
                  f"4 octaves × 30 steps: {octave:6.2f} s")
        if clf.kind == "mnist" and prefer == "imagenet":
            print("(no ImageNet weights here: the fallback model was used for both rows)")
            break


if __name__ == "__main__":
    main()
