"""Run one pipeline stage in this process: ``python -m ppdet_wsd.pipeline.worker TASK.json``
(or this file's path under ``python -m paddle.distributed.launch``).

Started by :mod:`ppdet_wsd.pipeline.runner`; each stage gets a fresh process because
ppdet's config is global. Exits 0 on success; on failure the traceback goes to the
stage log and the last line names the stage.
"""
import os
import sys
import zlib  # noqa: F401  (paddle 2.6 corrupts zlib when zlib is loaded after it)

if __name__ == '__main__' and sys.path and os.path.abspath(sys.path[0]) == \
        os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)  # run as a file: this folder's modules must not shadow top-level ones

import json  # noqa: E402


def main(task_file):
    import ppdet_wsd  # noqa: F401  (registers the plugin)
    from ppdet_wsd.pipeline.stages import STAGE_FUNCTIONS
    from ppdet_wsd.utils.dist import is_main_process
    from ppdet_wsd_runtime.atomic import write_json_atomic

    with open(task_file, encoding='utf-8') as f:
        task = json.load(f)
    result = STAGE_FUNCTIONS[task['stage']](task)
    if is_main_process():
        write_json_atomic(task['result_file'], result)


if __name__ == '__main__':
    main(sys.argv[1])
