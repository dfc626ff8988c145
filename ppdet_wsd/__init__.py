"""ppdet-wsd: weakly supervised defect localisation for PaddleDetection.

Importing this package fixes the host where needed (:mod:`ppdet_wsd.compat`), keeps
the host's known import-time noise off the console (:mod:`ppdet_wsd_runtime.quiet`) and
registers every part with ppdet's config system, so YAML configs can name them.
Import it before ``ppdet.core.workspace.load_config``.
"""
import zlib  # noqa: F401  (paddle 2.6.x corrupts zlib when zlib is loaded after it)

from ppdet_wsd_runtime.quiet import host_noise_filtered

with host_noise_filtered():  # the host's known import-time noise stays off the console
    from . import compat

    compat.apply_all()

    from . import backbones, data, evidence, metrics, modeling, pseudo  # noqa: F401  (registration)

__version__ = '0.1.0'
