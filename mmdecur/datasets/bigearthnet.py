# Copyright (c) mmdecur contributors. All rights reserved.
"""BigEarthNet-MM v1.0: Sentinel-1 + Sentinel-2 patches, 19-class labels."""
import csv
import json
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from mmdecur.registry import DATASETS
from .base import MultiModalDataset
from .errors import DataProblem, FileContentError, MissingFileError

__all__ = [
    'BigEarthNetMMDataset', 'BIGEARTHNET_43_CLASSES', 'BIGEARTHNET_19_CLASSES',
    'BIGEARTHNET_43_TO_19', 'BIGEARTHNET_S2_BANDS', 'BIGEARTHNET_S1_BANDS',
    'bigearthnet_19_labels', 'labels_to_multi_hot'
]

# The CORINE names as they appear in the archive's JSON ``labels``.
BIGEARTHNET_43_CLASSES = (
    'Continuous urban fabric', 'Discontinuous urban fabric',
    'Industrial or commercial units',
    'Road and rail networks and associated land', 'Port areas', 'Airports',
    'Mineral extraction sites', 'Dump sites', 'Construction sites',
    'Green urban areas', 'Sport and leisure facilities',
    'Non-irrigated arable land', 'Permanently irrigated land', 'Rice fields',
    'Vineyards', 'Fruit trees and berry plantations', 'Olive groves',
    'Pastures', 'Annual crops associated with permanent crops',
    'Complex cultivation patterns',
    'Land principally occupied by agriculture, with significant areas of '
    'natural vegetation', 'Agro-forestry areas', 'Broad-leaved forest',
    'Coniferous forest', 'Mixed forest', 'Natural grassland',
    'Moors and heathland', 'Sclerophyllous vegetation',
    'Transitional woodland/shrub', 'Beaches, dunes, sands', 'Bare rock',
    'Sparsely vegetated areas', 'Burnt areas', 'Inland marshes', 'Peatbogs',
    'Salt marshes', 'Salines', 'Intertidal flats', 'Water courses',
    'Water bodies', 'Coastal lagoons', 'Estuaries', 'Sea and ocean')

# The 19-class nomenclature in the official index order, with the 43-class
# names each class groups.
_GROUPS = (
    ('Urban fabric', ('Continuous urban fabric',
                      'Discontinuous urban fabric')),
    ('Industrial or commercial units', ('Industrial or commercial units', )),
    ('Arable land', ('Non-irrigated arable land', 'Permanently irrigated land',
                     'Rice fields')),
    ('Permanent crops',
     ('Vineyards', 'Fruit trees and berry plantations', 'Olive groves',
      'Annual crops associated with permanent crops')),
    ('Pastures', ('Pastures', )),
    ('Complex cultivation patterns', ('Complex cultivation patterns', )),
    ('Land principally occupied by agriculture, with significant areas of '
     'natural vegetation',
     ('Land principally occupied by agriculture, with significant areas of '
      'natural vegetation', )),
    ('Agro-forestry areas', ('Agro-forestry areas', )),
    ('Broad-leaved forest', ('Broad-leaved forest', )),
    ('Coniferous forest', ('Coniferous forest', )),
    ('Mixed forest', ('Mixed forest', )),
    ('Natural grassland and sparsely vegetated areas',
     ('Natural grassland', 'Sparsely vegetated areas')),
    ('Moors, heathland and sclerophyllous vegetation',
     ('Moors and heathland', 'Sclerophyllous vegetation')),
    ('Transitional woodland, shrub', ('Transitional woodland/shrub', )),
    ('Beaches, dunes, sands', ('Beaches, dunes, sands', )),
    ('Inland wetlands', ('Inland marshes', 'Peatbogs')),
    ('Coastal wetlands', ('Salt marshes', 'Salines')),
    ('Inland waters', ('Water courses', 'Water bodies')),
    ('Marine waters', ('Coastal lagoons', 'Estuaries', 'Sea and ocean')),
)
BIGEARTHNET_19_CLASSES = tuple(name for name, _ in _GROUPS)
# 43-class name -> 19-class index; the 11 dropped classes map to None.
BIGEARTHNET_43_TO_19: Dict[str, Optional[int]] = {
    name: None
    for name in BIGEARTHNET_43_CLASSES
}
BIGEARTHNET_43_TO_19.update({
    member: index
    for index, (_, members) in enumerate(_GROUPS)
    for member in members
})

# S2 bands in SSL4EO-S12's L1C order (13 bands). BigEarthNet is L2A and has
# no B10: it is fed as a zero band, as DeCUR's transfer did.
BIGEARTHNET_S2_BANDS = ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A',
                        'B9', 'B10', 'B11', 'B12')
_S2_FILE_BANDS = dict(
    B1='B01',
    B2='B02',
    B3='B03',
    B4='B04',
    B5='B05',
    B6='B06',
    B7='B07',
    B8='B08',
    B8A='B8A',
    B9='B09',
    B10=None,
    B11='B11',
    B12='B12')
# Stored sizes of the 120 x 120 px (1.2 km) patches: 10/20/60 m bands.
_S2_SIZES = dict(
    B1=20,
    B2=120,
    B3=120,
    B4=120,
    B5=60,
    B6=60,
    B7=60,
    B8=120,
    B8A=60,
    B9=20,
    B10=None,
    B11=60,
    B12=60)
BIGEARTHNET_S1_BANDS = ('VV', 'VH')
_S1_SIZE = 120
_JSON_SUFFIX = '_labels_metadata.json'
# Label files are read on threads: the reads are I/O-bound (many small
# files, often on network storage), so threads overlap the latency.
_LABEL_READ_THREADS = 16


def bigearthnet_19_labels(names: Iterable[str],
                          source: Optional[str] = None) -> List[int]:
    """43-class CORINE label names -> sorted 19-class indices.

    Names of the 11 dropped classes contribute nothing; names in one group
    give its index once.

    Args:
        names (Iterable[str]): Names as in the archive's JSON ``labels``.
        source (str, optional): Where the names come from (the JSON file),
            for the error message.

    Returns:
        list[int]: Sorted, unique indices into
        :data:`BIGEARTHNET_19_CLASSES` (empty if all names are dropped).

    Raises:
        ValueError: For a name that is not one of the 43 classes.
    """
    if isinstance(names, str):
        raise ValueError(f'{source or "labels"}: expected a list of label '
                         f'names, got the string {names!r}')
    indices = set()
    for name in names:
        if name not in BIGEARTHNET_43_TO_19:
            raise ValueError(
                f'{source or "labels"}: unknown BigEarthNet label {name!r} '
                '(not one of the 43 CORINE class names)')
        index = BIGEARTHNET_43_TO_19[name]
        if index is not None:
            indices.add(index)
    return sorted(indices)


def labels_to_multi_hot(
    indices: Iterable[int], num_classes: int = len(BIGEARTHNET_19_CLASSES)
) -> np.ndarray:
    """Class indices -> multi-hot float32 vector (1 where present).

    Args:
        indices (Iterable[int]): Class indices.
        num_classes (int): Vector length. Defaults to 19.

    Returns:
        np.ndarray: (num_classes, ) float32.
    """
    out = np.zeros(num_classes, np.float32)
    indices = np.asarray(list(indices), np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise ValueError(f'class indices must be in [0, {num_classes}), got '
                         f'{indices.tolist()}')
    out[indices] = 1.0
    return out


def _read_pairs(path: str) -> List[Tuple[str, str]]:
    """(S2 name, S1 name) rows of a split csv, in file order."""
    if not osp.isfile(path):
        raise MissingFileError(f'BigEarthNet split file not found: {path}',
                               path)
    pairs = []
    with open(path, newline='') as f:
        for line_no, row in enumerate(csv.reader(f), 1):
            row = [field.strip() for field in row]
            if not any(row):
                continue
            if len(row) != 2 or not all(row):
                raise FileContentError(
                    f'{path}, line {line_no}: expected "<S2 name>,<S1 name>",'
                    f' got {",".join(row)!r}', path, 'format')
            pairs.append((row[0], row[1]))
    return pairs


@DATASETS.register_module()
class BigEarthNetMMDataset(MultiModalDataset):
    """BigEarthNet-MM v1.0 (S1 + S2) for 19-class multi-label transfer.

    Layout (as released; samples and pairs follow the split csv, not the
    folder listing)::

        <data_root>/<s2_dir>/<S2>/<S2>_{B01,...,B8A,B09,B11,B12}.tif
                                  (+ <S2>_labels_metadata.json)
        <data_root>/<s1_dir>/<S1>/<S1>_{VV,VH}.tif
                                  (+ <S1>_labels_metadata.json)
        <data_root>/<split_dir>/{train,val,test}.csv   "<S2>,<S1>" per line

    Data info (from :meth:`get_data_info`):

    - ``band_paths``: ``s2`` = 13 paths in SSL4EO-S12's L1C order
      (:data:`BIGEARTHNET_S2_BANDS`: B1, B2, B3, B4, B5, B6, B7, B8, B8A,
      B9, None, B11, B12; the None B10 is read as a zero band); ``s1`` = the
      VV and VH paths in ``s1_band_order``.
    - ``band_sizes``: the stored size of every band (120/60/20 px for
      10/20/60 m S2 bands, 120 for S1; a file of another size is an error).
    - ``gt_label``: sorted 19-class indices (:data:`BIGEARTHNET_19_CLASSES`)
      from the S2 JSON ``labels`` via :data:`BIGEARTHNET_43_TO_19`; may be
      empty when all of a patch's classes are dropped ones.
    - ``s2_name``, ``s1_name``, ``labels_json`` (the S2 JSON path).

    Reading (the pipeline's first step)::

        dict(type='LoadBands', modalities=dict(
            s2=dict(size=120, interpolation='bilinear', dtype='uint16'),
            s1=dict(size=120, dtype='float')))

    **S1 band order.** SSL4EO-S12 pretraining used VV, VH, so that is the
    default; a model must receive S1 in the order it was pretrained with.
    DeCUR's official transfer code fed VH, VV: pass
    ``s1_band_order=('VH', 'VV')`` explicitly for the official checkpoints.
    The order in use is ``metainfo['bands']['s1']``.

    **Labels** are read when the data list is built, and only for the
    samples kept by ``label_fraction``: the 19-class targets are then in
    the data info (subset statistics, evaluation) and no file is opened
    for them during training. The reads run on threads to hide file-system
    latency. Reading the S2 JSON also checks that the S2 patch folder
    exists; the S1 folder is checked too. Missing folders/JSON files,
    unreadable JSON and unknown label names are problems handled by the
    :class:`MultiModalDataset` policy (errors naming the file by default).
    The stored data list holds names and labels only; paths are made in
    :meth:`get_data_info`, which keeps the serialized list small (the
    train split has 269,695 samples). :meth:`verify` also checks that each
    S1 JSON's ``corresponding_s2_patch`` is the csv's S2 partner.

    **Label fractions** (``label_fraction``, ``subset_seed``): the
    :class:`MultiModalDataset` mechanism (a seeded subset of the csv rows
    via :func:`label_fraction_indices`; subsets with one seed are nested,
    1 % ⊂ 10 % ⊂ 100 %), applied while listing: rows are chosen before any
    file is opened, so the labels of the other rows are never read and the
    subset does not depend on which files are missing.

    Args:
        data_root (str): Dataset root.
        split (str): 'train', 'val' or 'test' (reads ``<split>.csv``).
            Defaults to 'train'.
        s2_dir (str): S2 archive folder. Defaults to 'BigEarthNet-v1.0'.
        s1_dir (str): S1 archive folder. Defaults to 'BigEarthNet-S1-v1.0'.
        split_dir (str): Folder of the split csv files. Defaults to
            'splits'.
        label_fraction (float): Fraction of the split to use, in (0, 1].
            Defaults to 1.0.
        subset_seed (int): Seed of the label-fraction subset. Defaults to 0.
        seed (int, optional): Older name of ``subset_seed``. Defaults to
            None.
        s1_band_order (Sequence[str]): Order of the S1 bands, a permutation
            of ('VV', 'VH'). Defaults to ('VV', 'VH').
        pipeline (Sequence[dict | callable]): Transforms. Defaults to ().
        **kwargs: :class:`MultiModalDataset` arguments (e.g.
            ``skip_bad_samples``).
    """

    METAINFO = dict(classes=BIGEARTHNET_19_CLASSES, modalities=('s1', 's2'))
    SUBSET_WHILE_LISTING = True

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 s2_dir: str = 'BigEarthNet-v1.0',
                 s1_dir: str = 'BigEarthNet-S1-v1.0',
                 split_dir: str = 'splits',
                 label_fraction: float = 1.0,
                 subset_seed: int = 0,
                 seed: Optional[int] = None,
                 s1_band_order: Sequence[str] = BIGEARTHNET_S1_BANDS,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if isinstance(
                s1_band_order,
                str) or sorted(s1_band_order) != sorted(BIGEARTHNET_S1_BANDS):
            raise ValueError(f's1_band_order must be a permutation of '
                             f'{BIGEARTHNET_S1_BANDS}, got {s1_band_order!r}')
        if seed is not None:
            if subset_seed not in (0, seed):
                raise ValueError(f'seed ({seed}) is the older name of '
                                 f'subset_seed ({subset_seed}): give one')
            subset_seed = seed
        self.split = split
        self.s2_dir = s2_dir
        self.s1_dir = s1_dir
        self.split_dir = split_dir
        self.s1_band_order = tuple(s1_band_order)
        if self.s1_band_order != BIGEARTHNET_S1_BANDS:
            print_log(
                f'BigEarthNetMMDataset: S1 bands in the order '
                f'{self.s1_band_order} (SSL4EO-S12 pretraining used '
                f'{BIGEARTHNET_S1_BANDS})',
                logger='current')
        metainfo = dict(
            bands=dict(s1=self.s1_band_order, s2=BIGEARTHNET_S2_BANDS))
        metainfo.update(kwargs.pop('metainfo', None) or {})
        super().__init__(
            data_root=data_root,
            metainfo=metainfo,
            label_fraction=label_fraction,
            subset_seed=subset_seed,
            pipeline=pipeline,
            **kwargs)

    @property
    def split_file(self) -> str:
        return osp.join(self.data_root, self.split_dir, f'{self.split}.csv')

    def sample_paths(self, s2_name: str, s1_name: str) -> dict:
        """``band_paths``, ``band_sizes`` and ``labels_json`` of a pair."""
        s2_folder = osp.join(self.data_root, self.s2_dir, s2_name)
        s1_folder = osp.join(self.data_root, self.s1_dir, s1_name)
        s2 = [
            None if _S2_FILE_BANDS[b] is None else osp.join(
                s2_folder, f'{s2_name}_{_S2_FILE_BANDS[b]}.tif')
            for b in BIGEARTHNET_S2_BANDS
        ]
        s1 = [
            osp.join(s1_folder, f'{s1_name}_{b}.tif')
            for b in self.s1_band_order
        ]
        s2_sizes = [
            None if _S2_SIZES[b] is None else (_S2_SIZES[b], _S2_SIZES[b])
            for b in BIGEARTHNET_S2_BANDS
        ]
        return dict(
            band_paths=dict(s2=s2, s1=s1),
            band_sizes=dict(s2=s2_sizes, s1=[(_S1_SIZE, _S1_SIZE)] * 2),
            labels_json=osp.join(s2_folder, s2_name + _JSON_SUFFIX))

    def _list_one(self, pair: Tuple[str, str]) -> Tuple[dict, list]:
        """Data info and problems of one csv row."""
        s2_name, s1_name = pair
        where = f'(listed in {self.split_file})'
        s2_folder = osp.join(self.data_root, self.s2_dir, s2_name)
        s1_folder = osp.join(self.data_root, self.s1_dir, s1_name)
        json_path = osp.join(s2_folder, s2_name + _JSON_SUFFIX)
        problems, labels = [], []
        try:
            with open(json_path, encoding='utf-8') as f:
                meta = json.load(f)
        except FileNotFoundError:
            if not osp.isdir(s2_folder):
                problems.append(
                    DataProblem(
                        s2_folder, 'missing',
                        f'{s2_folder}: S2 patch folder not found '
                        f'{where}'))
            else:
                problems.append(
                    DataProblem(json_path, 'missing',
                                f'{json_path}: S2 label file not found'))
        except (OSError, ValueError) as e:  # incl. JSON/Unicode decode
            problems.append(
                DataProblem(json_path, 'unreadable',
                            f'Cannot read {json_path}: {e}'))
        else:
            try:
                if not isinstance(meta, dict) or 'labels' not in meta:
                    raise ValueError(f'{json_path}: no "labels" entry')
                labels = bigearthnet_19_labels(meta['labels'], json_path)
            except (TypeError, ValueError) as e:
                problems.append(DataProblem(json_path, 'content', str(e)))
        if not osp.isdir(s1_folder):
            problems.append(
                DataProblem(
                    s1_folder, 'missing',
                    f'{s1_folder}: S1 patch folder (partner of '
                    f'{s2_name}) not found {where}'))
        info = dict(s2_name=s2_name, s1_name=s1_name, gt_label=labels)
        return info, problems

    def load_data_list(self) -> List[dict]:
        """Read the split csv, take the label fraction, read the labels.

        Returns:
            list[dict]: ``dict(s2_name, s1_name, gt_label)`` per sample;
            :meth:`get_data_info` adds the paths.
        """
        pairs = _read_pairs(self.split_file)
        keep = self.subset_indices(len(pairs))
        pairs = [pairs[i] for i in keep]
        with ThreadPoolExecutor(_LABEL_READ_THREADS) as pool:
            listed = list(pool.map(self._list_one, pairs))
        data_list, problems, bad = [], [], []
        for i, (info, sample_problems) in enumerate(listed):
            if sample_problems:
                problems.extend(sample_problems)
                bad.append(i)
            data_list.append(info)
        return self.checked(data_list, problems, bad)

    def expand_info(self, info: dict) -> dict:
        """The stored record plus its file paths.

        Returns:
            dict: Data info with ``band_paths``, ``band_sizes``,
            ``labels_json``, ``gt_label``, ``s2_name``, ``s1_name``.
        """
        info.update(self.sample_paths(info['s2_name'], info['s1_name']))
        return info

    def check_info(self, info: dict) -> List[DataProblem]:
        """Read the bands, and check the S1 JSON names the S2 partner."""
        problems = super().check_info(info)
        s1_name, s2_name = info['s1_name'], info['s2_name']
        path = osp.join(self.data_root, self.s1_dir, s1_name,
                        s1_name + _JSON_SUFFIX)
        try:
            with open(path, encoding='utf-8') as f:
                partner = json.load(f).get('corresponding_s2_patch')
        except FileNotFoundError:
            problems.append(
                DataProblem(path, 'missing', f'{path}: S1 metadata file not '
                            'found'))
        except (OSError, ValueError, AttributeError) as e:
            problems.append(
                DataProblem(path, 'unreadable', f'Cannot read {path}: {e}'))
        else:
            if partner != s2_name:
                problems.append(
                    DataProblem(
                        path, 'partner', f'{path}: corresponding_s2_patch is '
                        f'{partner!r} but {self.split_file} pairs {s1_name} '
                        f'with {s2_name}'))
        return problems
