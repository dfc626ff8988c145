"""Write files so that a killed run never leaves a half-written one behind."""
import contextlib
import json
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_dir(final_dir):
    """Yield a temporary folder beside ``final_dir``; on success it replaces
    ``final_dir`` in one rename (an older ``final_dir`` is removed first), on error
    it is deleted and ``final_dir`` is untouched."""
    parent = os.path.dirname(os.path.abspath(final_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.tmp-', dir=parent)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if os.path.isdir(final_dir):
        shutil.rmtree(final_dir)
    os.replace(tmp, final_dir)


def move_files_into(src_dir, dst_dir, last=None):
    """Move every file of ``src_dir`` into ``dst_dir`` with atomic ``os.replace``; files
    whose name ends with ``last`` (e.g. ``'.pdparams'``) go after all others, so their
    presence means the rest of the set is in place."""
    os.makedirs(dst_dir, exist_ok=True)
    names = sorted(os.listdir(src_dir), key=lambda n: bool(last) and n.endswith(last))
    for name in names:
        os.replace(os.path.join(src_dir, name), os.path.join(dst_dir, name))


@contextlib.contextmanager
def atomic_file(path, suffix=''):
    """Yield a temporary path beside ``path`` to write (ending in ``suffix``, for writers
    that go by the file name's extension); on success it is renamed to ``path`` as an
    ordinary ``0644`` file (``mkstemp`` creates ``0600``), on error it is deleted and
    ``path`` is untouched."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_atomic(path, write, binary=False):
    """Call ``write(file)`` on a temporary file beside ``path`` (UTF-8 text, or bytes when
    ``binary``), then rename it to ``path`` (:func:`atomic_file`)."""
    with atomic_file(path) as tmp:
        with open(tmp, 'wb') if binary else open(tmp, 'w', encoding='utf-8') as f:
            write(f)


def write_json_atomic(path, obj):
    """Dump ``obj`` as indented JSON to ``path`` via a temporary file and a rename."""
    write_atomic(path, lambda f: json.dump(obj, f, indent=1))


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    write_atomic(path, lambda f: f.write(text))


def write_bytes_atomic(path, data):
    """Write ``data`` (bytes) to ``path`` via a temporary file and a rename."""
    write_atomic(path, lambda f: f.write(data), binary=True)
