"""Benchmark of stage 1: train the CAM classifier, then measure it once on the test split."""
import os
import time

from ..engine.commands import evaluate, train
from .report import provenance, write_section


def _fmt(value):
    return 'n/a' if value is None else f'{value:.4f}'


def benchmark_classifier(cfg, repo_dir, doc_path, key):
    """Train ``cfg`` (validating on ``EvalDataset``, best model by val image AP), then
    evaluate ``best_model`` on the ``test`` split and record everything in ``doc_path``.

    Returns:
        dict: ``train_seconds``, ``train_images_per_second``, ``test`` (metric results
        incl. ``seconds``) and ``infer_images_per_second``.
    """
    tic = time.time()
    trainer = train(cfg, validate=True)
    train_seconds = time.time() - tic
    num_train = len(trainer.dataset)
    weights = os.path.join(cfg.save_dir, cfg.filename, 'best_model')
    cfg.weights = weights
    cfg.EvalDataset['split'] = 'test'
    test = evaluate(cfg)
    result = {'train_seconds': train_seconds,
              'train_images_per_second': num_train * cfg.epoch / train_seconds,
              'test': test,
              'infer_images_per_second': test['num_images'] / test['seconds']}
    cache = getattr(trainer.model, 'cache', None)
    lines = provenance(repo_dir) + [
        f'- data: `{cfg.TrainDataset["dataset_dir"]}`; trained on the `train` split '
        f'({num_train} images; `val` is taken from train when splits.csv has none), '
        f'best epoch chosen by val image AP; reported on `test` once',
        f'- decision threshold: class score >= {test["threshold"]} (fixed, not tuned)',
        '',
        '| test images | image AUROC | image AP | good/bad accuracy | miss rate | over-kill rate |',
        '|---|---|---|---|---|---|',
        f'| {test["num_images"]} | {_fmt(test["image_auroc"])} | {_fmt(test["image_ap"])} | '
        f'{_fmt(test["good_bad_accuracy"])} | {_fmt(test["miss_rate"])} | '
        f'{_fmt(test["overkill_rate"])} |',
        '',
        '| label group | accuracy (predicted class set = true set) | class AUROC | class AP |',
        '|---|---|---|---|']
    for group, acc in test['per_group_accuracy'].items():
        extra = test['per_class'].get(group, {})
        lines.append(f'| {group} | {acc:.4f} | {_fmt(extra.get("auroc"))} | '
                     f'{_fmt(extra.get("ap"))} |')
    lines += ['',
              '| training wall time | epochs | training images/s | inference images/s (test, batch '
              f'{cfg.EvalReader["batch_size"]}, incl. decoding) |',
              '|---|---|---|---|',
              f'| {train_seconds:.0f} s | {cfg.epoch} | {result["train_images_per_second"]:.1f} | '
              f'{result["infer_images_per_second"]:.1f} |']
    if cache is not None:
        lines.append(f'\nFrozen-feature cache during training: {cache.hits} hits, '
                     f'{cache.misses} backbone computations, {cache.used_bytes / 2**20:.0f} MiB.')
    write_section(doc_path, key, f'Stage 1 classifier: {cfg.filename}', lines)
    return result
