"""Train a ppdet-wsd model: ``python tools/train.py -c CONFIG [--eval] [-r CKPT] [-o k=v]``."""
import _bootstrap  # must come first
_bootstrap.training_threads()

import ppdet_wsd  # noqa: F401  (registers the plugin before the config is read)
from ppdet_wsd.engine.commands import train
from ppdet_wsd.engine.config import load_run_config, make_parser, user_errors


def main():
    parser = make_parser(__doc__)
    parser.add_argument('--eval', action='store_true',
                        help='evaluate on EvalDataset every snapshot_epoch and keep best_model')
    parser.add_argument('-r', '--resume', default=None, help='checkpoint to resume from')
    parser.add_argument('--use_vdl', action='store_true', help='write VisualDL curves')
    parser.add_argument('--vdl_log_dir', default='vdl_log_dir/scalar')
    flags = parser.parse_args()
    train(load_run_config(flags), validate=flags.eval, resume=flags.resume)


if __name__ == '__main__':
    with user_errors():
        main()
