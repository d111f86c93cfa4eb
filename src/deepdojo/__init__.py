"""deepdojo: the deep-learning interview canon as tested PyTorch code and measured experiments.

Layers (dependencies point one way): ``nn`` <- ``models`` <- ``train``, ``diagnose`` <- ``labs``
<- ``report``, ``cli``; ``data``, ``metrics`` and ``utils`` sit beside the library.
"""

__version__ = "0.1.0"
