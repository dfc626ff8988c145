"""The review page's web server (Flask): one page, a JSON API, the images, nothing else.

Routes:

* ``GET /`` and ``/static/*``: the page (plain HTML / JS / CSS in ``static/``, no build
  step, nothing fetched from elsewhere).
* ``GET /api/state``: classes, the images in review order (:mod:`.order`) with their
  boxes and review state, progress per class.
* ``GET /api/image?file=<file_name>`` / ``GET /api/heat?file=<file_name>``: an image of
  the pseudo-box file, or its heat-map picture.
* ``POST /api/decision``: one decision (:mod:`.decisions`); saved before the answer.

Only files named in the pseudo-box file are served, and only when they resolve inside the
image folder (heat maps: inside the pseudo-box folder): ``..``, absolute paths and
symlinks leading out get 400 / 403. The review file is the only file ever written.
"""
import ipaddress
import os

from flask import Flask, jsonify, request, send_file
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from .decisions import DecisionError, UnknownItemError, apply_decision, is_done, pseudo_snapshot
from .order import review_order
from .pseudo_file import read_pseudo_images
from .store import REVIEW_FILE, ReviewFileError, ReviewStore, read_review

MAX_REQUEST_BYTES = 64 * 1024


class RequestError(Exception):
    """A refused request: HTTP ``status`` with a message for the person."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def safe_path(root, name, known):
    """The real path of ``name`` under ``root``, refusing anything else.

    Args:
        root (str): the folder every served file must resolve into.
        name: the requested name (relative, ``/``-separated).
        known (set[str]): names that may be asked for.
    Raises:
        RequestError: 400 for a missing, absolute or ``..`` name, 404 for a name not in
            ``known`` or a missing file, 403 for a file resolving outside ``root``.
    """
    if not isinstance(name, str) or not name or '\x00' in name:
        raise RequestError(400, 'give the image as ?file=<file name of the pseudo-box file>')
    parts = name.replace('\\', '/').split('/')
    if os.path.isabs(name) or name.startswith(('/', '\\')) or ':' in parts[0]:
        raise RequestError(400, f'absolute paths are refused: {name!r}')
    if '..' in parts:
        raise RequestError(400, f'".." is refused: {name!r}')
    if name not in known:
        raise RequestError(404, f'{name!r} is not an image of this review')
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, name))
    if os.path.commonpath([real, real_root]) != real_root:
        raise RequestError(403, f'{name!r} leads outside the dataset folder')
    if not os.path.isfile(real):
        raise RequestError(404, f'{name!r}: file not found')
    return real


def create_app(pseudo_file, image_root, review_file=None):
    """The Flask app reviewing ``pseudo_file``'s boxes on the images under ``image_root``.

    Args:
        pseudo_file (str): COCO pseudo-box file (:mod:`.pseudo_file`).
        image_root (str): the folder its ``file_name`` values are relative to.
        review_file (str | None): default ``review.json`` beside ``pseudo_file``.
    Raises:
        DatasetError: ``pseudo_file`` is unreadable. ReviewFileError: the review file
            exists but is not one.
    """
    classes, images = read_pseudo_images(pseudo_file)
    order = review_order(images, classes)
    queue = [images[i] for i in order]
    by_file = {im['file']: im for im in queue}
    heat_dir = os.path.dirname(os.path.abspath(pseudo_file))
    heat_files = {im['file']: im['heat_map'] for im in queue if im['heat_map']}
    store = ReviewStore(review_file or os.path.join(heat_dir, REVIEW_FILE))
    read_review(store.path)  # refuse to start on a broken review file

    app = Flask(__name__, static_folder='static', static_url_path='/static')
    app.config['MAX_CONTENT_LENGTH'] = MAX_REQUEST_BYTES
    app.config['REVIEW_STORE'] = store

    def view(image, record):
        return {'file': image['file'], 'width': image['width'], 'height': image['height'],
                'labels': image['labels'], 'heat': image['file'] in heat_files,
                'boxes': record['boxes'] if record else pseudo_snapshot(image['boxes']),
                'no_defect': bool(record and record['no_defect']),
                'reviewed': record is not None, 'done': is_done(record)}

    def progress(review):
        done = {f for f, r in review['images'].items() if is_done(r)}
        return {c: {'done': sum(im['file'] in done for im in queue if c in im['labels']),
                    'total': sum(c in im['labels'] for im in queue)} for c in classes}

    @app.errorhandler(RequestError)
    def refused(err):
        return jsonify(error=str(err)), err.status

    @app.errorhandler(HTTPException)
    def http_error(err):
        return jsonify(error=f'{err.code} {err.name}: {err.description}'), err.code

    @app.errorhandler(ReviewFileError)
    def broken_review(err):
        return jsonify(error=str(err)), 409

    @app.after_request
    def no_cache(response):
        response.headers['Cache-Control'] = 'no-store'
        response.headers['X-Content-Type-Options'] = 'nosniff'
        return response

    @app.get('/')
    def page():
        return app.send_static_file('index.html')

    @app.get('/api/state')
    def state():
        review = store.load()
        return jsonify(classes=classes, review_file=os.path.abspath(store.path),
                       images=[view(im, review['images'].get(im['file'])) for im in queue],
                       progress=progress(review), actions=review['actions'])

    @app.get('/api/image')
    def image():
        return send_file(safe_path(image_root, request.args.get('file'), by_file))

    @app.get('/api/heat')
    def heat():
        name = request.args.get('file')
        safe_path(image_root, name, by_file)
        if name not in heat_files:
            raise RequestError(404, f'{name!r} has no heat map')
        return send_file(safe_path(heat_dir, heat_files[name], {heat_files[name]}))

    @app.post('/api/decision')
    def decision():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise RequestError(400, 'the body must be a JSON object '
                                    '{"file": ..., "action": ..., ...}')
        name = body.get('file')
        if not isinstance(name, str) or name not in by_file:
            raise RequestError(404 if isinstance(name, str) else 400,
                               f'"file" must name an image of this review, got {name!r}')

        def change(review):
            return apply_decision(review, by_file[name], body, classes)
        try:
            record, review = store.update(change)
        except DecisionError as err:
            raise RequestError(400, str(err)) from None
        except UnknownItemError as err:
            raise RequestError(404, str(err)) from None
        return jsonify(image=view(by_file[name], record), progress=progress(review),
                       actions=review['actions'])

    return app


def is_loopback(host):
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(app, host='127.0.0.1', port=8765):
    """Serve ``app`` (threaded) until interrupted; prints the URL. ``port`` 0 picks a
    free one."""
    server = make_server(host, port, app, threaded=True)
    if not is_loopback(host):
        print(f'warning: serving on {host}: anyone who can reach this address can see the '
              f'images and change the review', flush=True)
    shown = f'[{host}]' if ':' in host else host
    print(f'review page: http://{shown}:{server.server_port}/  '
          f'(decisions saved to {app.config["REVIEW_STORE"].path}; Ctrl-C to stop)', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
