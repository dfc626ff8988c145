"""The review page in a real browser (headless Debian chromium through Playwright):
accept, reject, redraw, relabel, add, "no defect visible" by keyboard and mouse, the
saved file, a reload, and the server's refusal of paths out of the dataset."""
import json
from urllib.parse import quote

import pytest

from review_fixture import make_review_case
from ppdet_wsd.review.browser import chromium_page, find_chromium, running_server
from ppdet_wsd.review.server import create_app

pytestmark = pytest.mark.slow


def _saved(page, action, count):
    page.wait_for_function(
        'want => document.getElementById("status").textContent === want',
        arg=f'saved: {action} ({count} decisions in all)', timeout=10000)


def _drag(page, x1, y1, x2, y2):
    """Drag over the image from (x1, y1) to (x2, y2) in image pixels (64x48 at 10x), once
    the photo has loaded or failed (a refused image, like ``link.png``, lays out only then)."""
    page.wait_for_function('document.getElementById("photo").complete')
    box = page.locator('#overlay').bounding_box()
    page.mouse.move(box['x'] + 10 * x1, box['y'] + 10 * y1)
    page.mouse.down()
    page.mouse.move(box['x'] + 10 * (x1 + x2) / 2, box['y'] + 10 * (y1 + y2) / 2)
    page.mouse.move(box['x'] + 10 * x2, box['y'] + 10 * y2)
    page.mouse.up()


def test_review_in_a_real_browser(tmp_path):
    if find_chromium() is None:
        pytest.skip('chromium not found (Debian: apt-get install chromium; .ci/run installs it)')
    pseudo, images = make_review_case(str(tmp_path))
    app = create_app(pseudo, images)
    with running_server(app) as url, chromium_page(str(tmp_path / 'profile')) as page:
        page.goto(url)
        page.wait_for_selector('#boxes li')
        assert page.text_content('#image-title') == '1/4: a.png'
        assert page.text_content('#progress') == 'scratch 0/2spot 0/2'
        page.keyboard.press('a')                       # accept box 1 of a.png
        _saved(page, 'accept', 1)
        page.keyboard.press('Tab')
        page.keyboard.press('r')                       # reject box 2
        _saved(page, 'reject', 2)
        page.keyboard.press('h')                       # heat map on
        assert page.is_visible('#heat')
        page.keyboard.press('ArrowRight')              # b.png: redraw, then relabel
        assert page.text_content('#image-title') == '2/4: b.png'
        page.keyboard.press('d')
        _drag(page, 10, 5, 30, 25)
        _saved(page, 'redraw', 3)
        page.keyboard.press('c')
        _saved(page, 'relabel', 4)
        page.keyboard.press('ArrowRight')              # sub/c.png: no defect visible
        page.keyboard.press('n')
        _saved(page, 'no_defect', 5)
        page.keyboard.press('ArrowRight')              # link.png: add a box by dragging
        page.wait_for_function('document.getElementById("status").textContent.startsWith('
                               '"cannot show link.png: \'link.png\' leads outside")')
        page.keyboard.press('b')
        _drag(page, 40, 30, 60, 45)
        _saved(page, 'add', 6)
        assert page.text_content('#progress') == 'scratch 2/2spot 2/2'
        page.keyboard.press('g')
        assert page.locator('.card').count() == 4 and page.locator('.card.done').count() == 4
        page.reload()
        page.wait_for_selector('#boxes li')
        assert page.text_content('#progress') == 'scratch 2/2spot 2/2'
        statuses = {path: page.request.get(f'{url}/api/image?file={quote(path)}').status
                    for path in ('../secret.png', '/etc/passwd', 'link.png', 'a.png')}
        assert statuses == {'../secret.png': 400, '/etc/passwd': 400, 'link.png': 403,
                            'a.png': 200}
        assert page.request.post(f'{url}/api/decision', data='{"file": ',
                                 headers={'Content-Type': 'application/json'}).status == 400
    with open(tmp_path / 'pseudo_boxes' / 'review.json') as f:
        saved = json.load(f)
    assert saved['actions'] == 6
    a, b, c, link = (saved['images'][f]['boxes'] for f in ('a.png', 'b.png', 'sub/c.png',
                                                           'link.png'))
    assert [(x['id'], x['state']) for x in a] == [('p0', 'accepted'), ('p1', 'rejected')]
    assert [(x['class'], x['box'], x['state'], x['edits']) for x in b] == \
        [('scratch', [10.0, 5.0, 30.0, 25.0], 'accepted', ['redrawn', 'relabelled'])]
    assert saved['images']['sub/c.png']['no_defect'] is True and c[0]['state'] == 'pending'
    assert [(x['id'], x['class'], x['box'], x['origin']) for x in link] == \
        [('d0', 'spot', [40.0, 30.0, 60.0, 45.0], 'drawn')]
