"""Write a synthetic defect dataset in the standard layout (see ppdet_wsd/demo/synthetic.py).

Example:
    python tools/make_demo_data.py --output demo_data/synthetic --per-class 20 --good 40
"""
import _bootstrap  # noqa: F401  (must come first)

import argparse
import json
import sys

from ppdet_wsd.demo.synthetic import make_defect_dataset


def parse_size(text):
    """``"128"`` -> ``128``; ``"96:160"`` -> ``((96, 160), (96, 160))`` (size drawn per image)."""
    low, _, high = text.partition(':')
    if not high:
        return int(low)
    return (int(low), int(high)), (int(low), int(high))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--output', required=True, help='dataset folder to write')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--size', type=parse_size, default=128,
                        help='image side in pixels, or MIN:MAX for a side drawn per image')
    parser.add_argument('--per-class', type=int, default=20, help='images per defect class')
    parser.add_argument('--good', type=int, default=40, help='defect-free images')
    parser.add_argument('--classes', nargs='+', default=['scratch', 'spot', 'crack'],
                        help='defect classes (scratch, spot, crack, stain)')
    parser.add_argument('--grey', action='store_true', help='single-channel images')
    parser.add_argument('--multi-label-fraction', type=float, default=0.0,
                        help='share of each class\'s images that also show another class')
    parser.add_argument('--max-instances', type=int, default=2,
                        help='most instances of a class in one image')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing dataset in --output')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    num_per_class = {'good': args.good, **{name: args.per_class for name in args.classes}}
    try:
        summary = make_defect_dataset(
            args.output, num_per_class=num_per_class, image_size=args.size, seed=args.seed,
            grey=args.grey, multi_label_fraction=args.multi_label_fraction,
            max_instances=args.max_instances, overwrite=args.overwrite)
    except (ValueError, FileExistsError) as error:
        sys.exit(f'error: {error}')
    print(json.dumps(summary, indent=1))


if __name__ == '__main__':
    main()
