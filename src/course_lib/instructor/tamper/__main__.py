"""``python -m course_lib.instructor.tamper SUBMISSION_FOLDER [--source FOLDER]``: print the findings."""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from . import __doc__ as _DOC
from .cells import scan_submission


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=_DOC.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a student's submission folder (*.ipynb)")
    parser.add_argument("--source", type=Path, default=None,
                        help="the assignment's source notebooks, to compare test cells and trust locked cells")
    args = parser.parse_args(argv)
    results = scan_submission(args.folder, args.source)
    kinds: Counter[str] = Counter()
    for name, findings in results.items():
        for f in findings:
            print(f"{name}: {f}")
            kinds[f.kind] += 1
    n = sum(kinds.values())
    flagged = sum(1 for f in results.values() if f)
    summary = ", ".join(f"{k} {c}" for k, c in sorted(kinds.items()))
    print(f"{n} finding(s) in {flagged} of {len(results)} notebook(s)" + (f": {summary}" if summary else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
