"""Benchmark: the median time of course_lib.pieces.count_pieces on deep and wide networks.

    .venv/bin/python scripts/bench_pieces.py [--repeats N]

Cases: random networks (course_lib.pieces.random_net, He weights, breakpoints
inside the interval) of depth 8 and width 16; depth 20 and width 2; and the
sawtooth of depth 20 on (0, 1), which has 2^20 pieces. Aim: under 50 ms each.
Prints numbers; asserts nothing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from course_lib.pieces import count_pieces, random_net, sawtooth  # noqa: E402


def median_ms(net, interval: tuple[float, float], repeats: int) -> tuple[float, int]:
    """Median wall time of count_pieces (after one warm-up call) and the count."""
    count = count_pieces(net, interval).count
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        count_pieces(net, interval)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    cases = [(f"random D=8 W=16 seed={s}", random_net(8, 16, seed=s), (-1.0, 1.0)) for s in range(3)]
    cases += [(f"random D=20 W=2 seed={s}", random_net(20, 2, seed=s), (-1.0, 1.0)) for s in range(3)]
    cases += [(f"random D=20 W=4 seed={s}", random_net(20, 4, seed=s), (-1.0, 1.0)) for s in range(3)]
    cases += [("sawtooth D=20 W=2 on (0, 1)", sawtooth(20), (0.0, 1.0))]
    print(f"{'network':32s} {'pieces':>9s} {'median ms':>10s}")
    for name, net, interval in cases:
        ms, count = median_ms(net, interval, args.repeats)
        print(f"{name:32s} {count:9d} {ms:10.2f}")
    redraw()


def redraw() -> None:
    """The explorer's redraw (count the pieces, build the figure), and the static figure's build time."""
    from course_lib.figures.pieces import _figure, pieces_figure, view

    print(f"\n{'explorer redraw':32s} {'pieces':>9s} {'median ms':>10s}")
    for args in (("random", 4, 4, 0), ("random", 8, 8, 1), ("sawtooth", 8, 2, 0)):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            result, text = view(*args)
            _figure(result, text).to_dict()
            times.append(time.perf_counter() - start)
        print(f"{' '.join(map(str, args[:3])):32s} {result.count:9d} {1e3 * statistics.median(times):10.2f}")
    start = time.perf_counter()
    fig = pieces_figure()
    print(f"static figure ({len(fig.layout.sliders[0].steps)} views): {1e3 * (time.perf_counter() - start):.0f} ms")


if __name__ == "__main__":
    main()
