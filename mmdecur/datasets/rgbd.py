# Copyright (c) mmdecur contributors. All rights reserved.
"""RGB-D datasets: SUN-RGBD pretraining folders and the CMX layout."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

from mmdecur.registry import DATASETS
from .base import MultiModalDataset
from .errors import DataProblem, MissingFileError

__all__ = [
    'SUNRGBDPretrainDataset', 'RGBXDataset', 'NYUDV2_CLASSES',
    'SUNRGBD_CLASSES'
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


@DATASETS.register_module()
class SUNRGBDPretrainDataset(MultiModalDataset):
    """SUN-RGBD RGB + HHA image pairs for pretraining, official layout.

    Layout: ``<data_root>/<rgb_dir>/<name>.jpg`` and the HHA image of the
    same name in ``<data_root>/<depth_dir>``, ``<name>.jpg`` or else
    ``<name>.png``. Without ``split_file`` every RGB ``*.jpg`` is used
    (sorted by name); note that this includes the 5050 test images of the
    37-class benchmark, i.e. pretraining on all images leaks the test set
    into the downstream evaluation (it is not stated whether the official
    run did this). Give the training list as ``split_file`` to avoid it.

    Pairing is checked when the data list is built, in one pass: every RGB
    image without an HHA image is reported, with the paths tried, in a
    single ``FileNotFoundError``.

    Data info: ``img_paths`` (dict: 'rgb', 'hha' -> path) and ``name``; the
    pipeline starts with ``LoadModalities``.

    Args:
        data_root (str): Dataset root.
        rgb_dir (str): RGB folder, relative to ``data_root``. Defaults to
            'sunrgbd_image'.
        depth_dir (str): HHA folder, relative to ``data_root``. Defaults to
            'sunrgbd_hha'.
        split_file (str, optional): File listing the names to use, one per
            line (bare names or file names), relative to ``data_root``.
            Defaults to None (all RGB images).
        pipeline (Sequence[dict | callable]): Transforms. Defaults to ().
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO = dict(modalities=('rgb', 'hha'))

    def __init__(self,
                 data_root: str,
                 rgb_dir: str = 'sunrgbd_image',
                 depth_dir: str = 'sunrgbd_hha',
                 split_file: Optional[str] = None,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        self.rgb_dir = rgb_dir
        self.depth_dir = depth_dir
        self.split_file = split_file
        super().__init__(data_root=data_root, pipeline=pipeline, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Pair every RGB image with its HHA image.

        Returns:
            list[dict]: ``dict(img_paths=dict(rgb=..., hha=...), name=...)``
            per sample.
        """
        rgb_root = osp.join(self.data_root, self.rgb_dir)
        hha_root = osp.join(self.data_root, self.depth_dir)
        rgb_files = _listdir(rgb_root, 'RGB')
        hha_files = _listdir(hha_root, 'HHA')
        problems = []
        if self.split_file is None:
            names = sorted(
                osp.splitext(f)[0] for f in rgb_files if f.endswith('.jpg'))
        else:
            names = _read_names(osp.join(self.data_root, self.split_file))
            for n in names:
                if f'{n}.jpg' not in rgb_files:
                    path = osp.join(rgb_root, f'{n}.jpg')
                    problems.append(
                        DataProblem(
                            path, 'missing', f'{path}: listed in '
                            f'{self.split_file} but there is no RGB image'))

        data_list, bad = [], []
        for name in names:
            rgb = osp.join(rgb_root, f'{name}.jpg')
            hha = next(
                (f'{name}{ext}'
                 for ext in ('.jpg', '.png') if f'{name}{ext}' in hha_files),
                None)
            if hha is None:
                tried = ', '.join(
                    osp.join(hha_root, f'{name}{e}') for e in ('.jpg', '.png'))
                # The missing file is the HHA image; the RGB file names it.
                problems.append(
                    DataProblem(
                        osp.join(hha_root, f'{name}.jpg'), 'missing',
                        f'{rgb} has no HHA image (tried {tried})'))
                hha = f'{name}.jpg'
            if f'{name}.jpg' not in rgb_files or hha not in hha_files:
                bad.append(len(data_list))
            data_list.append(
                dict(
                    img_paths=dict(rgb=rgb, hha=osp.join(hha_root, hha)),
                    name=name))
        return self.checked(data_list, problems, bad)


@DATASETS.register_module()
class RGBXDataset(MultiModalDataset):
    """Co-registered RGB + X images (+ labels) in the CMX layout.

    Layout (NYUDv2, SUN-RGBD as released for CMX)::

        <data_root>/RGB/<name>.jpg
        <data_root>/HHA/<name>.jpg      (or Depth/<name>.png, 1 band)
        <data_root>/Label/<name>.png    (uint8, 0 = void, 1..K classes)
        <data_root>/train.txt, test.txt (one bare name per line)

    Samples follow the split file's order. Every listed file is checked
    when the data list is built; all missing ones are reported at once.

    Data info: ``img_paths`` (dict modality -> path), ``name`` and, with
    ``label_dir``, ``seg_map_path`` (the label is read by a later pipeline
    step; CMX's ``label - 1`` shift on uint8 makes void 0 the ignore
    index 255).

    Args:
        data_root (str): Dataset root.
        split (str): Split name; the list is ``<data_root>/<split>.txt``.
            Defaults to 'train'.
        modality_dirs (dict): Modality name -> folder. Defaults to
            ``dict(rgb='RGB', hha='HHA')``.
        img_suffixes (dict): Modality name -> file suffix; needed for every
            modality in ``modality_dirs``. Defaults to
            ``dict(rgb='.jpg', hha='.jpg')``.
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
                 img_suffixes: Dict[str, str] = dict(rgb='.jpg', hha='.jpg'),
                 label_dir: Optional[str] = 'Label',
                 label_suffix: str = '.png',
                 split_file: Optional[str] = None,
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        no_suffix = [m for m in modality_dirs if m not in img_suffixes]
        if no_suffix:
            raise ValueError(f'img_suffixes has no suffix for modality(ies) '
                             f'{no_suffix}.')
        self.split = split
        self.modality_dirs = dict(modality_dirs)
        self.img_suffixes = dict(img_suffixes)
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
