"""Export for deployment: ``python tools/export_model.py -c CONFIG -o weights=CKPT [--output_dir D]``."""
import _bootstrap  # noqa: F401  (must come first)

import ppdet_wsd  # noqa: F401
from ppdet_wsd.engine.commands import export
from ppdet_wsd.engine.config import load_run_config, make_parser, user_errors


def main():
    parser = make_parser(__doc__)
    parser.add_argument('--output_dir', default='output_inference')
    flags = parser.parse_args()
    export(load_run_config(flags), flags.output_dir)


if __name__ == '__main__':
    with user_errors():
        main()
