#!/usr/bin/env bash
# Set up (if needed) and run the main job on the built-in synthetic demo: generate the
# dataset once (demo_data/synthetic), then the whole pipeline in one command --
# classifier, heat maps, pseudo boxes, RetinaNet-MIL, evaluation, export -- into
# output/pipeline_demo/ with report.html. Re-running skips the finished stages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
PY=${VENV:-.venv}/bin/python

if [ ! -f demo_data/synthetic/labels.csv ]; then
    "$PY" tools/make_demo_data.py --output demo_data/synthetic
fi
"$PY" tools/run_pipeline.py -c configs/demo/pipeline_demo.yml
echo
echo "demo finished:"
echo "  report (open in a browser)  output/pipeline_demo/report.html"
echo "  numbers                     output/pipeline_demo/report.json"
echo "  pseudo-box review page      output/pipeline_demo/pseudo_boxes/review/index.html"
echo "  exported detector           output/pipeline_demo/export/export/  (run it: python -m ppdet_wsd_runtime output/pipeline_demo/export/export <images> --out <dir>)"
echo "  stage logs                  output/pipeline_demo/logs/"
