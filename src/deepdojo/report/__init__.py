"""The evidence report: a static site built from the latest run of each lab.

>>> from deepdojo.report import build_site
>>> build_site("runs", "site")  # doctest: +SKIP
PosixPath('site/index.html')

``question_summary`` gives the same evidence as data, for ``deepdojo show Q09``.
"""

from deepdojo.report.evidence import api_available, question_summary
from deepdojo.report.site import build_site

__all__ = ["api_available", "build_site", "question_summary"]
