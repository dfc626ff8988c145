"""Headless Chromium for the review page's browser test and its screenshot: Debian's
``chromium`` driven by Playwright (its Python package brings the driver; no browser is
ever downloaded), with the flags a machine without network needs."""
import contextlib
import os
import shutil
import threading

from werkzeug.serving import make_server

CHROMIUM_CANDIDATES = ('chromium', 'chromium-browser', '/usr/bin/chromium')
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update',
                 '--disable-sync']


def find_chromium():
    """The Chromium binary's path, or None (Debian: ``apt-get install chromium``)."""
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name) or (name if os.path.isfile(name) else None)
        if path:
            return path
    return None


@contextlib.contextmanager
def running_server(app):
    """Serve ``app`` on a free loopback port in a thread; yields its base URL."""
    server = make_server('127.0.0.1', 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_port}'
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium_page(profile_dir, width=1280, height=800):
    """A page of a headless Chromium with a fresh profile in ``profile_dir``.

    Raises:
        FileNotFoundError: no Chromium binary (see :func:`find_chromium`).
    """
    from playwright.sync_api import sync_playwright
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError('no chromium binary: apt-get install chromium')
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile_dir, executable_path=binary, headless=True, args=CHROMIUM_ARGS,
            viewport={'width': width, 'height': height})
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def screenshot(app, path, profile_dir, keys=('h',)):
    """Open the review page of ``app``, press ``keys`` (default: the heat map on) and save
    a PNG screenshot to ``path``."""
    with running_server(app) as url, chromium_page(profile_dir) as page:
        page.goto(url)
        page.wait_for_selector('#boxes li')
        for key in keys:
            page.keyboard.press(key)
        page.wait_for_timeout(500)
        page.screenshot(path=path)
