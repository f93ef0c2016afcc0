"""nbgrader cell metadata, for the instructor's modules: the one reader lives in :mod:`course_lib.nbmeta`
(the student side reads it too); this name stays so existing imports keep working."""
from ..nbmeta import *  # noqa: F401,F403
from ..nbmeta import _regions  # noqa: F401
