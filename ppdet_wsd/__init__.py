"""ppdet-wsd: weakly supervised defect localisation for PaddleDetection.

Importing this package fixes the host where needed (:mod:`ppdet_wsd.compat`), keeps
the host's known import-time noise off the console (:mod:`ppdet_wsd_runtime.quiet`) and
registers every part with ppdet's config system, so YAML configs can name them.
Import it before ``ppdet.core.workspace.load_config``.

The one exception is the deploy runner (``python -m ppdet_wsd.deploy`` or
``tools/deploy.py``): it runs an exported model without ppdet (a factory PC need not
install it), so in that process nothing is registered.
"""
import os
import sys
import zlib  # noqa: F401  (paddle 2.6.x corrupts zlib when zlib is loaded after it)

from ppdet_wsd_runtime.quiet import host_noise_filtered


DEPLOY_MODULE = 'ppdet_wsd.deploy'


def runs_deploy_only(orig_argv, argv):
    """True when the process is the deploy runner: ``orig_argv`` (``sys.orig_argv``, the
    interpreter's command line) has ``-m ppdet_wsd.deploy``, or the script ``argv[0]`` is
    ``tools/deploy.py``."""
    by_module = any(a == '-m' and b == DEPLOY_MODULE for a, b in zip(orig_argv, orig_argv[1:]))
    script = os.path.abspath(argv[0]) if argv and argv[0] else ''
    by_tool = (os.path.basename(script) == 'deploy.py'
               and os.path.basename(os.path.dirname(script)) == 'tools')
    return by_module or by_tool


if not runs_deploy_only(getattr(sys, 'orig_argv', []), sys.argv):
    with host_noise_filtered():  # the host's known import-time noise stays off the console
        from . import compat

        compat.apply_all()

        from . import backbones, data, evidence, metrics, modeling, pseudo  # noqa: F401  (registration)

__version__ = '0.1.0'
