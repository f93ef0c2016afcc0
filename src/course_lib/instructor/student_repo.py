"""The public student repository: the one setting that says where students get the workbook.

This repository holds the solutions and stays private. What students get is the
student kit (``python -m course_lib.instructor.kit``: the release notebooks in
``ps1/``, the ``course_lib`` wheel and ``START_HERE.md``), which the instructor
pushes as a public repository. ``_config.yml`` names it::

    repository:
      url: https://github.com/your-course/ps1-student   # empty: not published (the default here)
      branch: main
      wheel_url: ""     # optional: the wheel from anywhere else ({version} is filled in)

From that setting come the setup cell's install source (the wheel at the
repository's root, ``<url>/raw/<branch>/course_lib-<version>-py3-none-any.whl``
on GitHub) and the book's "Open in Colab" links (``ps1/<notebook>.ipynb`` in
that repository). While it is empty, neither exists: the book has no Colab
links and the setup cell asks for the wheel to be uploaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

CONFIG = Path(__file__).resolve().parents[3] / "_config.yml"
COLAB = "https://colab.research.google.com"
#: The kit's folder of notebooks (and the folder notebooks are submitted in).
ASSIGNMENT_FOLDER = "ps1"


def wheel_name(version: str) -> str:
    """The file name pip gives course_lib's wheel (pure Python, any platform)."""
    return f"course_lib-{version}-py3-none-any.whl"


@dataclass(frozen=True)
class StudentRepository:
    """``url`` (empty: unset), ``branch``, and an optional explicit ``wheel_url``."""

    url: str = ""
    branch: str = "main"
    wheel_url_setting: str = ""

    def __post_init__(self) -> None:
        url = (self.url or "").strip().rstrip("/").removesuffix(".git")
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "branch", (self.branch or "main").strip())
        object.__setattr__(self, "wheel_url_setting", (self.wheel_url_setting or "").strip())
        if url and urlsplit(url).scheme != "https":
            raise ValueError(f"repository.url must be an https:// address, not {url!r}")

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc.lower()

    def wheel_url(self, version: str) -> str:
        """Where the setup cell downloads the wheel; ``""`` when nothing is configured."""
        if self.wheel_url_setting:
            return self.wheel_url_setting.replace("{version}", version)
        if not self.url:
            return ""
        name = wheel_name(version)
        if self.host in ("github.com", "www.github.com"):
            return f"{self.url}/raw/{self.branch}/{name}"
        if self.host == "gitlab.com" or self.host.startswith("gitlab."):
            return f"{self.url}/-/raw/{self.branch}/{name}"
        raise ValueError(f"repository.url {self.url!r} is neither on GitHub nor on GitLab: "
                         "set repository.wheel_url to the wheel's download address")

    def colab_url(self, notebook: str) -> str | None:
        """The "Open in Colab" address of ``ps1/<notebook>.ipynb`` in the repository (GitHub only)."""
        if self.host not in ("github.com", "www.github.com"):
            return None
        path = urlsplit(self.url).path.strip("/")
        return f"{COLAB}/github/{path}/blob/{self.branch}/{ASSIGNMENT_FOLDER}/{notebook}.ipynb"


def read(config: Path | str = CONFIG) -> StudentRepository:
    """The setting as ``_config.yml`` holds it."""
    import yaml

    repo = (yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}).get("repository") or {}
    return StudentRepository(repo.get("url") or "", repo.get("branch") or "main", repo.get("wheel_url") or "")
