# Copyright (c) mmdecur contributors. All rights reserved.
import importlib.metadata
import os.path as osp
from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name):
    """Read ``requirements/<name>.txt`` without comments or blank lines."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def swap_mmcv_lite_for_full_mmcv(requirements):
    """Keep an installed full ``mmcv`` instead of pulling ``mmcv-lite``.

    Both distributions install the same ``mmcv`` package; installing the lite
    one over a compiled build would shadow its ops. See ``mmdecur/compat.py``.
    """
    try:
        importlib.metadata.distribution('mmcv')
    except importlib.metadata.PackageNotFoundError:
        return requirements
    return [
        req.replace('mmcv-lite', 'mmcv', 1)
        if req.startswith('mmcv-lite') else req for req in requirements
    ]


def get_version():
    scope = {}
    with open(osp.join(HERE, 'mmdecur', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmdecur',
    version=get_version(),
    description='DeCUR: decoupling common and unique representations for '
    'multimodal self-supervised learning, on OpenMMLab',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(
        exclude=('configs', 'tools', 'tests', 'tests.*', 'projects',
                 'projects.*')),
    include_package_data=True,
    python_requires='>=3.8',
    install_requires=swap_mmcv_lite_for_full_mmcv(
        read_requirements('runtime')),
    extras_require=dict(
        tests=read_requirements('tests'),
        optional=read_requirements('optional'),
    ),
    license='Apache License 2.0',
    zip_safe=False,
)
