"""Review pseudo boxes in the browser: accept, reject, redraw, relabel; every decision is
saved at once to review.json beside the pseudo boxes, which a re-run of the pipeline folds
in (docs/review.md).

    python tools/review.py output/pipeline_demo                 # a pipeline's output folder
    python tools/review.py --pseudo <pseudo_boxes.json> --images <image folder>
"""
import _bootstrap  # noqa: F401  (must come first)

import argparse
import sys

from ppdet_wsd.review.server import create_app, serve
from ppdet_wsd.review.pseudo_file import resolve_sources


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('output_dir', nargs='?', help='a pipeline output folder (its '
                        'pseudo_boxes/ stage is reviewed)')
    parser.add_argument('--pseudo', help='a COCO pseudo-box file (instead of output_dir)')
    parser.add_argument('--images', help='the folder its file names are relative to '
                        '(default: the image_root recorded in the file)')
    parser.add_argument('--port', type=int, default=8765, help='0: any free port')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on; anything but loopback is reachable by '
                             'others on the network (a warning is printed)')
    flags = parser.parse_args()
    try:
        pseudo, images = resolve_sources(flags.output_dir, flags.pseudo, flags.images)
    except ValueError as err:
        parser.error(str(err))
    serve(create_app(pseudo, images), flags.host, flags.port)
    return 0


if __name__ == '__main__':
    sys.exit(main())
