"""Imported first by every tool: runs before anything imports paddle.

* ``import zlib`` first: paddle 2.6.x corrupts zlib when zlib is loaded after it;
* the repository root goes on ``sys.path`` so the tools run from a plain clone;
* CPU math uses every core unless ``OMP_NUM_THREADS`` says otherwise.
"""
import os
import sys
import zlib  # noqa: F401

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for _var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_var, str(os.cpu_count() or 1))
