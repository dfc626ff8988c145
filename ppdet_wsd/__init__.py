"""ppdet-wsd: weakly supervised defect localisation for PaddleDetection.

Importing this package fixes the host where needed (:mod:`ppdet_wsd.compat`) and
registers every part with ppdet's config system, so YAML configs can name them.
Import it before ``ppdet.core.workspace.load_config``.
"""
import zlib  # noqa: F401  (paddle 2.6.x corrupts zlib when zlib is loaded after it)

from . import compat

compat.apply_all()

from . import backbones, data, evidence, metrics, modeling, pseudo  # noqa: E402,F401  (registration)

__version__ = '0.1.0'
