"""One command from image labels to a deployable detector, with a report:
``python tools/run_pipeline.py -c configs/pipeline/default.yml -o dataset_dir=DIR output_dir=OUT``.

Re-running the same command skips finished stages, resumes a killed one and redoes the
stages whose settings or inputs changed.
"""
import _bootstrap  # noqa: F401  (must come first)

import errno
import shlex
import sys

from ppdet_wsd.pipeline.runner import PipelineError, run_pipeline
from ppdet_wsd.pipeline.spec import (PipelineConfigError, load_pipeline_config, make_parser,
                                     parse_overrides)


def main():
    flags = make_parser(__doc__).parse_args()
    try:
        spec = load_pipeline_config(flags.config, parse_overrides(flags.opt))
        run_pipeline(spec, 'python ' + shlex.join(sys.argv))
    except (PipelineError, PipelineConfigError) as e:
        sys.exit(f'error: {e}')
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        sys.exit(f'error: {e.strerror}{f" ({e.filename})" if e.filename else ""}: free some '
                 f'space and run the same command again (finished stages and partial work '
                 f'are kept, nothing half-written is read back)')


if __name__ == '__main__':
    main()
