"""Save a screenshot of the review page (headless Debian chromium; docs/review.png):
``python tools/review_screenshot.py <output_dir> docs/review.png``. Writes nothing else
(the page is only looked at)."""
import _bootstrap  # noqa: F401  (must come first)

import argparse
import tempfile

from ppdet_wsd.review.browser import screenshot
from ppdet_wsd.review.pseudo_file import resolve_sources
from ppdet_wsd.review.server import create_app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('output_dir', help='a pipeline output folder')
    parser.add_argument('png', help='the screenshot to write')
    parser.add_argument('--keys', nargs='*', default=['h'],
                        help='keys pressed first (default: h, the heat map on)')
    flags = parser.parse_args()
    pseudo, images = resolve_sources(flags.output_dir)
    with tempfile.TemporaryDirectory(prefix='review-chromium-') as profile:
        screenshot(create_app(pseudo, images), flags.png, profile, flags.keys)


if __name__ == '__main__':
    main()
