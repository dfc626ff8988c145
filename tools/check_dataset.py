"""Check a dataset without training: images per split and class, sizes, pixel kinds, and
every problem with its decision (error / skipped / note, docs/datasets.md).

    python tools/check_dataset.py /data/my_line [--strict] [--skipped_list skipped.txt]

Exits 1 when the dataset has errors (a run would stop before training), else 0.
"""
import _bootstrap  # noqa: F401  (must come first)

import argparse
import os
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('root', help='dataset folder (standard layout or class folders)')
    parser.add_argument('--strict', action='store_true',
                        help='unreadable, missing and unlisted images are errors, not skips')
    parser.add_argument('--skipped_list', default=None,
                        help='write the skipped and unlisted files here (file<TAB>reason)')
    flags = parser.parse_args()
    if not os.path.isdir(flags.root):  # before the slow imports
        sys.exit(f'error: {flags.root}: dataset folder not found')
    from ppdet_wsd.data.check import check_dataset
    from ppdet_wsd_runtime.atomic import write_text_atomic
    check = check_dataset(flags.root, strict=flags.strict, progress=True)
    print(check.summary())
    if flags.skipped_list:
        write_text_atomic(flags.skipped_list, ''.join(f'{line}\n' for line in check.skipped_lines()))
    sys.exit(1 if check.errors else 0)


if __name__ == '__main__':
    main()
