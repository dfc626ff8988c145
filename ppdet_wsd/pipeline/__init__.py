"""The one-command pipeline: classifier -> heat maps -> pseudo boxes -> RetinaNet-MIL ->
evaluation -> export -> report (``tools/run_pipeline.py``, ``docs/pipeline.md``)."""
