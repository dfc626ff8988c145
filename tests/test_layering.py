"""The packages of ``ppdet_wsd/`` depend one way, down the layers of docs/architecture.md
("Layers"): every module is parsed with ``ast`` (nothing is imported), each import (absolute
or relative, also one inside a function) is mapped to its package, and an import of a package
in the same or a higher layer, or one that closes a loop between packages, fails with the
file, the line and the edge."""
import ast
import os
from collections import deque

from conftest import REPO_ROOT

PACKAGE = 'ppdet_wsd'

# Top to bottom. A package imports only packages of lower layers; the packages of one layer
# do not import each other. tools/ sits above them all (nothing imports it).
LAYERS = (
    ('benchmarks', 'demo'),                     # measured runs of the same functions; demo data
    ('pipeline',),                              # the one-command pipeline
    ('review', 'engine'),                       # the human review; ppdet commands and loops
    ('deploy',),                                # export (with the stage-1 verdict model)
    ('evidence', 'visualization'),              # stages 1-2; pictures and pages
    ('pseudo', 'cam'),                          # maps -> boxes; class maps
    ('metrics', 'modeling', 'backbones'),       # measuring; the networks
    ('data',),                                  # labels, datasets, ground truth
    ('utils', 'registry', 'compat'),            # leaves
)
LAYER = {package: depth for depth, packages in enumerate(LAYERS) for package in packages}
ROOT = '(root)'  # ppdet_wsd/__init__.py: importing ``ppdet_wsd`` runs the imports it holds


def imported_modules(source, module, is_package):
    """``(line, absolute module name)`` of every import in ``source``, at any depth.

    Args:
        source (str): Python source of the module.
        module (str): its dotted name, e.g. ``ppdet_wsd.data.labels``.
        is_package (bool): the module is a package's ``__init__.py``.
    Returns:
        list[tuple[int, str]]: ``from m import a`` gives ``m.a`` (``a`` may be a submodule);
        relative imports are resolved against ``module``.
    """
    here = module.split('.') if is_package else module.split('.')[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                base = '.'.join(here[:len(here) - node.level + 1] + ([base] if base else []))
            found += [(node.lineno, f'{base}.{alias.name}') for alias in node.names]
    return found


def package_of(name, packages):
    """The package (first level below ``ppdet_wsd``) of a dotted module name, ``ROOT`` for
    ``ppdet_wsd`` itself or a name defined in its ``__init__``, None outside the plugin."""
    parts = name.split('.')
    if parts[0] != PACKAGE:
        return None
    return parts[1] if len(parts) > 1 and parts[1] in packages else ROOT


def plugin_files():
    """``{path relative to the repo: (module name, is_package, package)}`` of every module
    of ``ppdet_wsd/``; ``package`` is ``ROOT`` for ``ppdet_wsd/__init__.py``."""
    files = {}
    for folder, dirs, names in os.walk(os.path.join(REPO_ROOT, PACKAGE)):
        dirs[:] = sorted(d for d in dirs if not d.startswith(('.', '__')))
        for name in sorted(n for n in names if n.endswith('.py')):
            path = os.path.relpath(os.path.join(folder, name), REPO_ROOT)
            parts = path[:-3].split(os.sep)
            is_package = parts[-1] == '__init__'
            module = parts[:-1] if is_package else parts
            files[path.replace(os.sep, '/')] = ('.'.join(module), is_package,
                                                module[1] if len(module) > 1 else ROOT)
    return files


def package_edges():
    """``[(file, line, from package, to package)]`` of the imports between packages; an
    import of ``ppdet_wsd`` itself counts as one of every package its ``__init__`` imports."""
    files = plugin_files()
    packages = {package for _, _, package in files.values()} - {ROOT}
    edges = []
    for path, (module, is_package, package) in files.items():
        with open(os.path.join(REPO_ROOT, path), encoding='utf-8') as f:
            source = f.read()
        for line, name in imported_modules(source, module, is_package):
            target = package_of(name, packages)
            if target is not None and target != package:
                edges.append((path, line, package, target))
    by_root = sorted({e[3] for e in edges if e[2] == ROOT} - {ROOT})
    return sorted({(path, line, source, root_import)
                   for path, line, source, target in edges if source != ROOT
                   for root_import in (by_root if target == ROOT else [target])})


def _path_back(graph, start, goal):
    """The shortest package path ``start -> ... -> goal`` in ``graph``, or None."""
    previous, queue = {start: None}, deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while previous[path[-1]] is not None:
                path.append(previous[path[-1]])
            return path[::-1]
        for nxt in sorted(graph.get(node, ())):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None


def test_the_parser_resolves_absolute_relative_and_local_imports():
    source = ('import os\nfrom ppdet_wsd.data import labels\nfrom . import store\n'
              'from ..metrics.localization import box_iou\n'
              'def f():\n    from .. import compat\n    import ppdet_wsd\n')
    found = imported_modules(source, 'ppdet_wsd.review.apply', is_package=False)
    assert found == [(1, 'os'), (2, 'ppdet_wsd.data.labels'), (3, 'ppdet_wsd.review.store'),
                     (4, 'ppdet_wsd.metrics.localization.box_iou'),
                     (6, 'ppdet_wsd.compat'), (7, 'ppdet_wsd')]
    assert imported_modules('from . import store\n', 'ppdet_wsd.review',
                            is_package=True) == [(1, 'ppdet_wsd.review.store')]
    packages = {'data', 'review', 'compat'}
    assert [package_of(name, packages) for _, name in found] == \
        [None, 'data', 'review', ROOT, 'compat', ROOT]


def test_every_package_has_a_layer():
    packages = {package for _, _, package in plugin_files().values()} - {ROOT}
    assert packages == set(LAYER), (
        f'packages without a layer in LAYERS: {sorted(packages - set(LAYER))}; '
        f'layers naming no package: {sorted(set(LAYER) - packages)}')


def test_imports_run_down_the_layers():
    upward = [f'{path}:{line}: {source} (layer {LAYER[source]}) imports {target} '
              f'(layer {LAYER[target]}), which is not below it'
              for path, line, source, target in package_edges()
              if LAYER[target] <= LAYER[source]]
    assert not upward, 'imports against the layers (docs/architecture.md):\n' + '\n'.join(upward)


def test_no_package_imports_a_package_that_imports_it_back():
    edges = package_edges()
    graph = {}
    for _, _, source, target in edges:
        graph.setdefault(source, set()).add(target)
    loops = []
    for path, line, source, target in edges:
        back = _path_back(graph, target, source)
        if back:
            loops.append(f'{path}:{line}: {source} -> {target}, and back: {" -> ".join(back)}')
    assert not loops, 'imports in a loop between packages:\n' + '\n'.join(loops)


def test_prediction_loops_never_import_training():
    """Inside ``engine/``: ``training/`` (the trainer and its callbacks) may run the
    prediction loops of ``prediction/`` (the refinement's teacher pass does), never the
    reverse."""
    back = [f'{path}:{line}: imports {name}'
            for path, (module, is_package, _) in plugin_files().items()
            if module.startswith(f'{PACKAGE}.engine.prediction')
            for line, name in imported_modules(
                open(os.path.join(REPO_ROOT, path), encoding='utf-8').read(), module, is_package)
            if name.startswith(f'{PACKAGE}.engine.training')]
    assert not back, 'engine/prediction imports engine/training:\n' + '\n'.join(back)
    assert any(module == f'{PACKAGE}.engine.prediction.detect'
               for module, _, _ in plugin_files().values())
