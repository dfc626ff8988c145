"""The review server (Flask test client): its state, saving and reloading decisions,
concurrent writers, and what it refuses."""
import json
import os
import threading

import pytest

from review_fixture import make_review_case, tree
from ppdet_wsd.review.server import create_app, is_loopback


@pytest.fixture
def case(tmp_path):
    pseudo, images = make_review_case(str(tmp_path))
    return tmp_path, pseudo, images


def post(client, **decision):
    return client.post('/api/decision', json=decision)


def test_state_lists_labelled_images_in_review_order_with_progress(case):
    _, pseudo, images = case
    state = create_app(pseudo, images).test_client().get('/api/state').get_json()
    assert state['classes'] == ['scratch', 'spot']
    # most confident per class (a.png 0.9, b.png 0.2), then by uncertainty, classes in turn
    assert [im['file'] for im in state['images']] == ['a.png', 'b.png', 'sub/c.png', 'link.png']
    assert state['progress'] == {'scratch': {'done': 0, 'total': 2},
                                 'spot': {'done': 0, 'total': 2}}
    first = state['images'][0]
    assert first['heat'] is True and first['reviewed'] is False
    assert [(b['id'], b['class'], b['box'], b['score'], b['state']) for b in first['boxes']] == \
        [('p0', 'scratch', [4.0, 4.0, 20.0, 12.0], 0.9, 'pending'),
         ('p1', 'scratch', [30.0, 30.0, 40.0, 44.0], 0.55, 'pending')]


def test_decisions_are_saved_at_once_and_survive_a_restart(case):
    root, pseudo, images = case
    client = create_app(pseudo, images).test_client()
    assert post(client, file='a.png', action='accept', box='p0').status_code == 200
    assert post(client, file='a.png', action='redraw', box='p1',
                xyxy=[50, 40, 28, 30.5]).status_code == 200
    assert post(client, file='a.png', action='relabel', box='p1', **{'class': 'spot'}).status_code == 200
    answer = post(client, file='a.png', action='add', xyxy=[-5, 1, 6, 7], **{'class': 'scratch'})
    assert answer.get_json()['progress']['scratch'] == {'done': 1, 'total': 2}
    assert post(client, file='b.png', action='reject', box='p0').status_code == 200
    assert post(client, file='sub/c.png', action='no_defect', value=True).status_code == 200
    saved = json.load(open(root / 'pseudo_boxes' / 'review.json'))
    assert saved['actions'] == 6 and sorted(saved['images']) == ['a.png', 'b.png', 'sub/c.png']
    assert saved['images']['a.png'] == {'no_defect': False, 'actions': 4, 'boxes': [
        {'id': 'p0', 'class': 'scratch', 'box': [4.0, 4.0, 20.0, 12.0], 'score': 0.9,
         'state': 'accepted', 'origin': 'pseudo', 'edits': []},
        {'id': 'p1', 'class': 'spot', 'box': [28.0, 30.5, 50.0, 40.0], 'score': 0.55,
         'state': 'accepted', 'origin': 'pseudo', 'edits': ['redrawn', 'relabelled']},
        {'id': 'd0', 'class': 'scratch', 'box': [0.0, 1.0, 6.0, 7.0], 'score': 1.0,
         'state': 'accepted', 'origin': 'drawn', 'edits': []}]}
    assert saved['images']['b.png']['boxes'][0]['state'] == 'rejected'
    assert saved['images']['sub/c.png']['no_defect'] is True
    restarted = create_app(pseudo, images).test_client().get('/api/state').get_json()
    by_file = {im['file']: im for im in restarted['images']}
    assert by_file['a.png']['boxes'] == saved['images']['a.png']['boxes']
    assert by_file['a.png']['done'] and by_file['b.png']['done'] and by_file['sub/c.png']['done']
    assert restarted['progress'] == {'scratch': {'done': 2, 'total': 2},
                                     'spot': {'done': 1, 'total': 2}}
    assert post(client, file='a.png', action='reset').status_code == 200
    assert 'a.png' not in json.load(open(root / 'pseudo_boxes' / 'review.json'))['images']


def test_concurrent_writers_on_one_file_lose_nothing(case):
    root, pseudo, images = case
    apps = [create_app(pseudo, images), create_app(pseudo, images)]  # two servers, one file
    errors = []

    def writer(app, k):
        client = app.test_client()
        for j in range(10):
            answer = post(client, file='b.png', action='add', xyxy=[k, j, k + 10, j + 10],
                          **{'class': 'spot'})
            if answer.status_code != 200:
                errors.append(answer.get_json())

    threads = [threading.Thread(target=writer, args=(apps[k % 2], k)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    saved = json.load(open(root / 'pseudo_boxes' / 'review.json'))
    drawn = [b for b in saved['images']['b.png']['boxes'] if b['origin'] == 'drawn']
    assert saved['actions'] == 60 and len(drawn) == 60
    assert sorted(b['id'] for b in drawn) == sorted(f'd{k}' for k in range(60))
    assert sorted(tuple(b['box'][:2]) for b in drawn) == \
        sorted((float(k), float(j)) for k in range(6) for j in range(10))


@pytest.mark.parametrize('name,status', [
    ('../secret.png', 400), ('sub/../../secret.png', 400), ('/etc/passwd', 400),
    (None, 400), ('nope.png', 404), ('link.png', 403)])
def test_paths_outside_the_dataset_are_refused(case, name, status):
    root, pseudo, images = case
    client = create_app(pseudo, images).test_client()
    answer = client.get('/api/image', query_string={} if name is None else {'file': name})
    assert answer.status_code == status and answer.get_json()['error']


def test_images_and_heat_maps_are_served(case):
    _, pseudo, images = case
    client = create_app(pseudo, images).test_client()
    image = client.get('/api/image', query_string={'file': 'sub/c.png'})
    assert image.status_code == 200 and image.data[:4] == b'\x89PNG'
    assert client.get('/api/heat', query_string={'file': 'a.png'}).data[:2] == b'\xff\xd8'
    assert client.get('/api/heat', query_string={'file': 'b.png'}).status_code == 404
    assert client.get('/').status_code == 200 and b'review.js' in client.get('/').data
    assert client.get('/static/review.js').status_code == 200


@pytest.mark.parametrize('body,status', [
    (b'{"file": "a.png", "action": ', 400),                       # not JSON
    (b'["a.png"]', 400),                                          # not an object
    (b'{"file": "../a.png", "action": "accept", "box": "p0"}', 404),
    (b'{"file": 3, "action": "accept"}', 400),
    (b'{"file": "a.png", "action": "delete_all"}', 400),
    (b'{"file": "a.png", "action": "accept"}', 400),              # no box
    (b'{"file": "a.png", "action": "accept", "box": "p9"}', 404),
    (b'{"file": "a.png", "action": "redraw", "box": "p0", "xyxy": [1, 2, 3]}', 400),
    (b'{"file": "a.png", "action": "redraw", "box": "p0", "xyxy": [70, 0, 90, 10]}', 400),
    (b'{"file": "a.png", "action": "add", "xyxy": [1, 2, 30, 40], "class": "dent"}', 400),
    (b'{"file": "a.png", "action": "no_defect", "value": "yes"}', 400),
    (b'{"file": "a.png", "action": "add", "xyxy": [1, 1, 9, 9], "class": "spot", "pad": "'
     + b'x' * 70000 + b'"}', 413),
])
def test_malformed_decisions_get_a_4xx_and_write_nothing(case, body, status):
    root, pseudo, images = case
    before = tree(str(root))
    answer = create_app(pseudo, images).test_client().post(
        '/api/decision', data=body, content_type='application/json')
    assert answer.status_code == status and answer.get_json()['error']
    assert tree(str(root)) == before


def test_only_the_review_file_is_ever_written(case):
    root, pseudo, images = case
    before = tree(str(root))
    client = create_app(pseudo, images).test_client()
    client.get('/api/state')
    client.get('/api/image', query_string={'file': 'a.png'})
    post(client, file='a.png', action='accept_all')
    post(client, file='link.png', action='add', xyxy=[1, 1, 9, 9], **{'class': 'spot'})
    after = tree(str(root))
    assert set(after) - set(before) == {os.path.join('pseudo_boxes', 'review.json')}
    assert {k: after[k] for k in before} == before


def test_a_broken_review_file_stops_the_server_before_it_starts(case):
    root, pseudo, images = case
    (root / 'pseudo_boxes' / 'review.json').write_text('{"half": ')
    with pytest.raises(ValueError, match='review.json: not a readable review file'):
        create_app(pseudo, images)


def test_loopback_addresses():
    assert [is_loopback(h) for h in ('127.0.0.1', '127.3.0.1', '::1', 'localhost',
                                     '0.0.0.0', '192.168.1.4', 'example')] == \
        [True, True, True, True, False, False, False]
