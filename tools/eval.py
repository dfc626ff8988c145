"""Evaluate a trained model: ``python tools/eval.py -c CONFIG -o weights=CKPT [--output_json F]``."""
import _bootstrap  # noqa: F401  (must come first)

import ppdet_wsd  # noqa: F401
from ppdet_wsd.engine.commands import evaluate
from ppdet_wsd.engine.config import load_run_config, make_parser, user_errors


def main():
    parser = make_parser(__doc__)
    parser.add_argument('--output_json', default=None, help='also write the results here')
    flags = parser.parse_args()
    evaluate(load_run_config(flags), flags.output_json)


if __name__ == '__main__':
    with user_errors():
        main()
