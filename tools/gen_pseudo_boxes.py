"""CAM pseudo boxes for a dataset (COCO json + review gallery):
``python tools/gen_pseudo_boxes.py -c CONFIG -o weights=CKPT [PseudoBoxes.split=train] [--output_dir D]``.
Re-running after an interruption resumes where it stopped."""
import _bootstrap  # noqa: F401  (must come first)

import ppdet_wsd  # noqa: F401
from ppdet_wsd.engine.commands import pseudo_boxes
from ppdet_wsd.engine.config import load_run_config, make_parser, user_errors


def main():
    parser = make_parser(__doc__)
    parser.add_argument('--output_dir', default=None,
                        help='default: <save_dir>/<config name>/pseudo_<split>')
    flags = parser.parse_args()
    pseudo_boxes(load_run_config(flags), flags.output_dir)


if __name__ == '__main__':
    with user_errors():
        main()
