"""tenfold: ten machine-learning papers as library APIs, command-line tools and a measured reproduction report.

Each method lives in its own sub-package (``tenfold.ftrojan``, ``tenfold.mdlm``, ...); shared
machinery (the experiment registry, report, data and the fit loop) is in ``tenfold.core``.
"""

__version__ = "0.1.0"
