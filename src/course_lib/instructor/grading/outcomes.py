"""The error names :class:`.execute.GuardedExecute` writes into a cell it could not run
normally. Kept apart from :mod:`.execute` so that reading graded notebooks
(:mod:`.summary`, :mod:`.feedback`) does not import nbgrader: ``course-grade``'s parent
starts its workers before it pays for that import."""

KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
OUTPUT_LIMIT = "OutputLimitExceeded"
TIMEOUT = "CellTimeoutError"  # nbclient's own name for a cell past its time limit
