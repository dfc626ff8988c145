"""Run a trained model on images: verdicts plus heat maps (classifier) or boxes (detector):
``python tools/infer.py -c CONFIG -o weights=CKPT --infer_img F | --infer_dir D [--output_dir O]``."""
import _bootstrap  # noqa: F401  (must come first)

import ppdet_wsd  # noqa: F401
from ppdet_wsd.engine.commands import infer
from ppdet_wsd.engine.config import load_run_config, make_parser, user_errors


def main():
    parser = make_parser(__doc__)
    parser.add_argument('--infer_img', default=None, help='one image')
    parser.add_argument('--infer_dir', default=None, help='a folder of images (recursive)')
    parser.add_argument('--output_dir', default='output/infer',
                        help='results.json and one picture per image')
    parser.add_argument('--no_pictures', '--no_heatmaps', action='store_true',
                        help='write results.json only')
    flags = parser.parse_args()
    infer(load_run_config(flags), flags.infer_img, flags.infer_dir, flags.output_dir,
          save_pictures=not flags.no_pictures)


if __name__ == '__main__':
    with user_errors():
        main()
