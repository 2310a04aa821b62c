# Copyright (c) mmdecur contributors. All rights reserved.
"""RGB-D datasets (RGB, HHA, raw depth): SUN-RGBD pretraining folders and
the CMX layout."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

from mmdecur.registry import DATASETS
from .base import MultiModalDataset
from .errors import DataProblem, MissingFileError

__all__ = [
    'SUNRGBDPretrainDataset', 'RGBXDataset', 'NYUDV2_CLASSES',
    'SUNRGBD_CLASSES', 'SUNRGBD_SUFFIXES', 'CMX_SUFFIXES'
]

NYUDV2_CLASSES = ('wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table',
                  'door', 'window', 'bookshelf', 'picture', 'counter',
                  'blinds', 'desk', 'shelves', 'curtain', 'dresser', 'pillow',
                  'mirror', 'floor mat', 'clothes', 'ceiling', 'books',
                  'refridgerator', 'television', 'paper', 'towel',
                  'shower curtain', 'box', 'whiteboard', 'person',
                  'night stand', 'toilet', 'sink', 'lamp', 'bathtub', 'bag',
                  'otherstructure', 'otherfurniture', 'otherprop')
SUNRGBD_CLASSES = NYUDV2_CLASSES[:37]
_NAMED_CLASSES = dict(nyudv2=NYUDV2_CLASSES, sunrgbd=SUNRGBD_CLASSES)

_IMG_EXTS = ('.jpg', '.jpeg', '.png')


def _read_names(path: str) -> List[str]:
    """Sample names from a split file, one per line, in listed order.

    Blank lines are skipped; a trailing image extension is dropped, so both
    bare names and file names work.
    """
    if not osp.isfile(path):
        raise MissingFileError(f'Split file not found: {path}', path)
    names = []
    with open(path) as f:
        for line in f:
            name = line.strip()
            if not name:
                continue
            stem, ext = osp.splitext(name)
            names.append(stem if ext.lower() in _IMG_EXTS else name)
    return names


def _listdir(path: str, what: str) -> set:
    if not osp.isdir(path):
        raise MissingFileError(f'{what} folder not found: {path}', path)
    return set(os.listdir(path))


# How a modality is named in messages ('has no HHA image').
_DISPLAY_NAMES = dict(rgb='RGB', hha='HHA')
# File suffixes of the released layouts, per modality: RGB and HHA images
# are JPEGs (some HHA releases PNGs), raw depth maps 1-band PNGs.
SUNRGBD_SUFFIXES = dict(rgb=('.jpg', ), hha=('.jpg', '.png'), depth=('.png', ))
CMX_SUFFIXES = dict(rgb='.jpg', hha='.jpg', depth='.png')


def _display(modality: str) -> str:
    return _DISPLAY_NAMES.get(modality, modality)


def _check_modality_dirs(modality_dirs: Dict[str, str], what: str) -> dict:
    if not isinstance(modality_dirs, dict) or not modality_dirs:
        raise ValueError(f'{what}: modality_dirs must be a non-empty dict '
                         f'of modality name -> folder, got {modality_dirs!r}')
    bad = [m for m, d in modality_dirs.items() if not m or not d]
    if bad:
        raise ValueError(f'{what}: modality(ies) {bad} have no folder name')
    return dict(modality_dirs)


Suffixes = Dict[str, Union[str, Sequence[str]]]


def _suffixes_for(modality_dirs: Dict[str, str], given: Optional[Suffixes],
                  defaults: Suffixes, what: str) -> dict:
    """Per modality of ``modality_dirs`` its suffix(es): ``given`` first,
    then the layout's defaults; a modality with neither is an error."""
    suffixes = dict(defaults)
    suffixes.update(given or {})
    missing = [m for m in modality_dirs if m not in suffixes]
    if missing:
        raise ValueError(
            f'{what}: img_suffixes has no suffix for modality(ies) '
            f'{missing} (defaults exist for {sorted(defaults)})')
    return {m: suffixes[m] for m in modality_dirs}


@DATASETS.register_module()
class SUNRGBDPretrainDataset(MultiModalDataset):
    """SUN-RGBD images for pretraining: RGB + HHA, or any ordered set of
    co-registered modalities (e.g. RGB + HHA + raw depth).

    Layout: one folder per modality under ``data_root`` holding one file per
    sample, all named ``<name><suffix>``. The default is the official
    pretraining layout, ``sunrgbd_image/<name>.jpg`` (RGB) and
    ``sunrgbd_hha/<name>.jpg|png`` (HHA). For three modalities point it at a
    release that has raw depth, e.g. the CMX layout with
    ``modality_dirs=dict(rgb='RGB', hha='HHA', depth='Depth')`` (depth:
    ``Depth/<name>.png``, one band, read as stored).

    Without ``split_file`` every file of the FIRST modality is used (sorted
    by name); note that for the official folders this includes the 5050 test
    images of the 37-class benchmark, i.e. pretraining on all images leaks
    the test set into the downstream evaluation (it is not stated whether
    the official run did this). Give the training list as ``split_file`` to
    avoid it.

    Pairing is checked when the data list is built, in one pass: every
    sample lacking a file of some modality is reported, with the paths
    tried, in a single ``FileNotFoundError`` (or, with ``skip_bad_samples``,
    dropped with a counted warning).

    Data info: ``img_paths`` (dict modality -> path, in ``modality_dirs``
    order) and ``name``; the pipeline starts with ``LoadModalities``.
    ``metainfo['modalities']`` is the ordered tuple of modality names.

    Args:
        data_root (str): Dataset root.
        rgb_dir (str, optional): RGB folder of the two-modality default;
            kept for older configs, not together with ``modality_dirs``.
            Defaults to None ('sunrgbd_image').
        depth_dir (str, optional): HHA folder of the two-modality default;
            as ``rgb_dir``. Defaults to None ('sunrgbd_hha').
        split_file (str, optional): File listing the names to use, one per
            line (bare names or file names), relative to ``data_root``.
            Defaults to None (all files of the first modality).
        pipeline (Sequence[dict | callable]): Transforms. Defaults to ().
        modality_dirs (dict, optional): Ordered modality name -> folder
            relative to ``data_root``. Defaults to None, i.e.
            ``dict(rgb='sunrgbd_image', hha='sunrgbd_hha')``.
        img_suffixes (dict, optional): Modality name -> file suffix or tuple
            of suffixes tried in order; modalities not given use
            :data:`SUNRGBD_SUFFIXES` (rgb ``.jpg``; hha ``.jpg``, ``.png``;
            depth ``.png``). Defaults to None.
        **kwargs: Other :class:`MultiModalDataset` arguments.
    """

    def __init__(self,
                 data_root: str,
                 rgb_dir: Optional[str] = None,
                 depth_dir: Optional[str] = None,
                 split_file: Optional[str] = None,
                 pipeline: Sequence = (),
                 modality_dirs: Optional[Dict[str, str]] = None,
                 img_suffixes: Optional[Suffixes] = None,
                 **kwargs) -> None:
        what = type(self).__name__
        if modality_dirs is None:
            modality_dirs = dict(
                rgb=rgb_dir or 'sunrgbd_image', hha=depth_dir or 'sunrgbd_hha')
        elif rgb_dir is not None or depth_dir is not None:
            raise ValueError(
                f'{what}: give the folders either as modality_dirs or as '
                f'rgb_dir/depth_dir, not both (got modality_dirs='
                f'{modality_dirs!r}, rgb_dir={rgb_dir!r}, '
                f'depth_dir={depth_dir!r})')
        self.modality_dirs = _check_modality_dirs(modality_dirs, what)
        self.img_suffixes = {
            m: (s, ) if isinstance(s, str) else tuple(s)
            for m, s in _suffixes_for(self.modality_dirs, img_suffixes,
                                      SUNRGBD_SUFFIXES, what).items()
        }
        empty = [m for m, s in self.img_suffixes.items() if not s]
        if empty:
            raise ValueError(f'{what}: no file suffix for modality(ies) '
                             f'{empty}')
        # Older attribute names of the two-modality default.
        self.rgb_dir = self.modality_dirs.get('rgb')
        self.depth_dir = self.modality_dirs.get('hha')
        self.split_file = split_file
        metainfo = dict(modalities=tuple(self.modality_dirs))
        metainfo.update(kwargs.pop('metainfo', None) or {})
        super().__init__(
            data_root=data_root,
            metainfo=metainfo,
            pipeline=pipeline,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Pair every sample of the first modality with the others' files.

        Returns:
            list[dict]: ``dict(img_paths={modality: path}, name=...)`` per
            sample.
        """
        roots = {
            m: osp.join(self.data_root, folder)
            for m, folder in self.modality_dirs.items()
        }
        listings = {m: _listdir(roots[m], _display(m)) for m in roots}
        anchor, *others = list(self.modality_dirs)
        anchor_suffixes = self.img_suffixes[anchor]

        def find(m: str, name: str) -> Optional[str]:
            return next((f'{name}{ext}' for ext in self.img_suffixes[m]
                         if f'{name}{ext}' in listings[m]), None)

        problems = []
        if self.split_file is None:
            names = sorted({
                osp.splitext(f)[0]
                for f in listings[anchor]
                if osp.splitext(f)[1] in anchor_suffixes
            })
        else:
            names = _read_names(osp.join(self.data_root, self.split_file))
            for n in names:
                if find(anchor, n) is None:
                    path = osp.join(roots[anchor], f'{n}{anchor_suffixes[0]}')
                    problems.append(
                        DataProblem(
                            path, 'missing', f'{path}: listed in '
                            f'{self.split_file} but there is no '
                            f'{_display(anchor)} image'))

        data_list, bad = [], []
        for name in names:
            files = {m: find(m, name) for m in self.modality_dirs}
            anchor_path = osp.join(
                roots[anchor], files[anchor] or f'{name}{anchor_suffixes[0]}')
            for m in others:
                if files[m] is not None:
                    continue
                tried = ', '.join(
                    osp.join(roots[m], f'{name}{e}')
                    for e in self.img_suffixes[m])
                # The missing file is the partner's; the anchor file names
                # the sample.
                problems.append(
                    DataProblem(
                        osp.join(roots[m], f'{name}{self.img_suffixes[m][0]}'),
                        'missing', f'{anchor_path} has no {_display(m)} '
                        f'image (tried {tried})'))
            if any(f is None for f in files.values()):
                bad.append(len(data_list))
            img_paths = {
                m: osp.join(roots[m], f or f'{name}{self.img_suffixes[m][0]}')
                for m, f in files.items()
            }
            data_list.append(dict(img_paths=img_paths, name=name))
        return self.checked(data_list, problems, bad)


@DATASETS.register_module()
class RGBXDataset(MultiModalDataset):
    """Co-registered RGB + X images (+ labels) in the CMX layout.

    Layout (NYUDv2, SUN-RGBD as released for CMX)::

        <data_root>/RGB/<name>.jpg
        <data_root>/HHA/<name>.jpg
        <data_root>/Depth/<name>.png    (some releases; 1 band, raw depth)
        <data_root>/Label/<name>.png    (uint8, 0 = void, 1..K classes)
        <data_root>/train.txt, test.txt (one bare name per line)

    Any ordered subset of the modalities is read, e.g. RGB + HHA (default),
    RGB + HHA + depth or RGB + depth, through ``modality_dirs``. Samples
    follow the split file's order. Every listed file of every configured
    modality (and the label) is checked when the data list is built; all
    missing ones are reported at once.

    Data info: ``img_paths`` (dict modality -> path, in ``modality_dirs``
    order), ``name`` and, with ``label_dir``, ``seg_map_path`` (the label is
    read by a later pipeline step; CMX's ``label - 1`` shift on uint8 makes
    void 0 the ignore index 255). ``metainfo['modalities']`` is the ordered
    tuple of modality names.

    Args:
        data_root (str): Dataset root.
        split (str): Split name; the list is ``<data_root>/<split>.txt``.
            Defaults to 'train'.
        modality_dirs (dict): Ordered modality name -> folder. Defaults to
            ``dict(rgb='RGB', hha='HHA')``.
        img_suffixes (dict, optional): Modality name -> file suffix;
            modalities not given use :data:`CMX_SUFFIXES` (rgb and hha
            ``.jpg``, depth ``.png``), any other modality needs one.
            Defaults to None.
        label_dir (str, optional): Label folder, None for no labels
            (pretraining). Defaults to 'Label'.
        label_suffix (str): Label file suffix. Defaults to '.png'.
        split_file (str, optional): Explicit split file relative to
            ``data_root``, instead of ``<split>.txt``. Defaults to None.
        classes (str | Sequence[str], optional): 'nyudv2' (40 classes),
            'sunrgbd' (37), a list of names, or None. Stored as
            ``metainfo['classes']``. Defaults to None.
        pipeline (Sequence[dict | callable]): Transforms. Defaults to ().
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 modality_dirs: Dict[str, str] = dict(rgb='RGB', hha='HHA'),
                 img_suffixes: Optional[Dict[str, str]] = None,
                 label_dir: Optional[str] = 'Label',
                 label_suffix: str = '.png',
                 split_file: Optional[str] = None,
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        what = type(self).__name__
        self.split = split
        self.modality_dirs = _check_modality_dirs(modality_dirs, what)
        self.img_suffixes = _suffixes_for(self.modality_dirs, img_suffixes,
                                          CMX_SUFFIXES, what)
        self.label_dir = label_dir
        self.label_suffix = label_suffix
        self.split_file = split_file or f'{split}.txt'
        metainfo = dict(modalities=tuple(self.modality_dirs))
        if classes is not None:
            if isinstance(classes, str):
                if classes.lower() not in _NAMED_CLASSES:
                    raise ValueError(
                        f'classes must be one of {list(_NAMED_CLASSES)} or '
                        f'a list of names, got {classes!r}')
                classes = _NAMED_CLASSES[classes.lower()]
            metainfo['classes'] = tuple(classes)
        metainfo.update(kwargs.pop('metainfo', None) or {})
        super().__init__(
            data_root=data_root,
            metainfo=metainfo,
            pipeline=pipeline,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Build the list from the split file, checking every file.

        Returns:
            list[dict]: One data info per listed name.
        """
        names = _read_names(osp.join(self.data_root, self.split_file))
        folders = dict(self.modality_dirs)
        suffixes = dict(self.img_suffixes)
        if self.label_dir is not None:
            folders['seg_map'] = self.label_dir
            suffixes['seg_map'] = self.label_suffix
        listings = {
            key: _listdir(osp.join(self.data_root, folder), key)
            for key, folder in folders.items()
        }
        data_list, problems, bad = [], [], []
        for name in names:
            paths = {}
            for key, folder in folders.items():
                file = f'{name}{suffixes[key]}'
                paths[key] = osp.join(self.data_root, folder, file)
                if file not in listings[key]:
                    problems.append(
                        DataProblem(
                            paths[key], 'missing', f'{paths[key]} ({key} of '
                            f'{name!r}, listed in {self.split_file}) is '
                            'missing'))
                    if not bad or bad[-1] != len(data_list):
                        bad.append(len(data_list))
            img_paths = {m: paths[m] for m in self.modality_dirs}
            info = dict(img_paths=img_paths, name=name)
            if self.label_dir is not None:
                info['seg_map_path'] = paths['seg_map']
            data_list.append(info)
        return self.checked(data_list, problems, bad)
