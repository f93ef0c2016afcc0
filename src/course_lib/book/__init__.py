"""The book's build: the Sphinx extension (:mod:`.sphinxext`, the ``plotly-figure``
directive and the pages' Colab links) and the figures only the book draws (:mod:`.figures`,
:mod:`.gpu`, :mod:`.layers`, :mod:`.optim`). Nothing here is imported by a notebook."""
