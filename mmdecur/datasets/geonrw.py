# Copyright (c) mmdecur contributors. All rights reserved.
"""GeoNRW: aerial RGB + LiDAR DEM tiles of North Rhine-Westphalia."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.logging import print_log

from mmdecur.registry import DATASETS
from .base import MultiModalDataset
from .errors import DataProblem, MissingFileError
from .transforms.jp2 import jp2_grey_flag_to_srgb  # noqa: F401 (re-export)
# Lives with LoadSegLabel (no import cycle); re-exported here.
from .transforms.loading import SEG_IGNORE_INDEX, geonrw_label_to_train_id

__all__ = [
    'GeoNRWDataset', 'GEONRW_CLASSES', 'GEONRW_TRAIN_CITIES',
    'GEONRW_TEST_CITIES', 'GEONRW_LAYOUTS', 'GEONRW_IGNORE_INDEX',
    'geonrw_label_to_train_id', 'jp2_grey_flag_to_srgb'
]

GEONRW_TRAIN_CITIES = ('aachen', 'bergisch', 'bielefeld', 'bochum', 'bonn',
                       'borken', 'bottrop', 'coesfeld', 'dortmund', 'dueren',
                       'duisburg', 'ennepetal', 'erftstadt', 'essen',
                       'euskirchen', 'gelsenkirchen', 'guetersloh', 'hagen',
                       'hamm', 'heinsberg', 'herford', 'hoexter', 'kleve',
                       'koeln', 'krefeld', 'leverkusen', 'lippetal',
                       'lippstadt', 'lotte', 'moenchengladbach', 'moers',
                       'muelheim', 'muenster', 'oberhausen', 'paderborn',
                       'recklinghausen', 'remscheid', 'siegen', 'solingen',
                       'wuppertal')
GEONRW_TEST_CITIES = ('duesseldorf', 'herne', 'neuss')
_SPLIT_CITIES = dict(train=GEONRW_TRAIN_CITIES, test=GEONRW_TEST_CITIES)

# Train ids 0..9 = the released labels 1..10; released 0 (unlabeled) is not
# a class and becomes the ignore index.
GEONRW_CLASSES = ('forest', 'water', 'agricultural',
                  'residential/commercial/industrial',
                  'grassland/swamp/shrubbery', 'railway/train station',
                  'highway/squares', 'airport/shipyard', 'roads', 'buildings')
GEONRW_IGNORE_INDEX = SEG_IGNORE_INDEX

# File suffixes per layout, and the number of '_'-separated fields before
# the suffix: E_N for the released tiles, E_N_k for the converter's patches
# (k = 1..16, row-major), as the official crop script names them.
GEONRW_LAYOUTS = dict(
    tiles=dict(rgb='_rgb.jp2', dem='_dem.tif', seg='_seg.tif', fields=2),
    patches=dict(rgb='_rgb.png', dem='_dem.tif', seg='_seg.png', fields=3))


def _sort_key(fields: Sequence[str]) -> tuple:
    # Numeric order for numeric fields (E, N, k), so patch 10 follows 9.
    return tuple((0, int(f), '') if f.isdigit() else (1, 0, f) for f in fields)


@DATASETS.register_module()
class GeoNRWDataset(MultiModalDataset):
    """GeoNRW RGB + DEM (+ land-cover labels), split by city.

    Layouts:

    - ``'tiles'`` (as released)::

        <data_root>/<city>/<E>_<N>_rgb.jp2   3 x uint8, 1000 x 1000
        <data_root>/<city>/<E>_<N>_dem.tif   float32 metres
        <data_root>/<city>/<E>_<N>_seg.tif   uint8, 0 = unlabeled, 1..10

    - ``'patches'`` (``tools/dataset_converters/geonrw_tiles.py``: 16
      non-overlapping 250 x 250 patches per tile, k = 1..16 row-major, the
      ``<city>/`` folders kept)::

        <data_root>/<city>/<E>_<N>_<k>_rgb.png, _dem.tif, _seg.png

    Splits are by city: test = :data:`GEONRW_TEST_CITIES` (duesseldorf,
    herne, neuss), train = the 40 :data:`GEONRW_TRAIN_CITIES`; ``cities``
    overrides the list. Files in other folders are ignored. A sample is
    keyed by its RGB file; its DEM (and, with ``with_label``, label)
    partner must exist, else the sample is a problem handled by the
    :class:`MultiModalDataset` policy (an error naming the missing file, or
    dropped with a counted warning under ``skip_bad_samples``). Cities
    without a folder are logged (subsets of GeoNRW are fine); none at all is
    an error.

    Data info: ``img_paths`` (dict: 'rgb', 'dem' -> path), ``city``,
    ``tile`` ('<E>_<N>'), ``name`` (the file stem), ``seg_map_path`` (with
    ``with_label``) and, for patches, ``patch_index`` (k). Samples are
    sorted by city, then numerically by E, N and k.

    Reading (the pipeline's first step)::

        dict(type='LoadModalities', modalities=dict(
            rgb=dict(color_order='rgb', channels=3),
            dem=dict(dtype='float', channels=1)))

    ``channels=3`` makes a JP2 that decodes to another band count an error
    naming the file, and ``dtype='float'`` does the same for a DEM that is
    not float. Released JP2 files carrying the greyscale flag on 3 bands
    (which OpenCV would decode to 3 copies of the red band) are corrected
    while reading (:func:`jp2_grey_flag_to_srgb`).

    The DEM is fed as ONE band (ResNet ``in_channels=1``). DeCUR stacked it
    to 3 identical channels only because torchvision's conv1 wants 3. It is
    normalised per sample by ``PercentileScale('dem', low=1, high=99)``
    (clip to the sample's 1st-99th percentile, then scale to [0, 255]) in
    pretraining AND in transfer; the official code used percentiles in
    pretraining but per-tile min-max in transfer.

    Labels: train ids 0..9 = released 1..10 (:data:`GEONRW_CLASSES`),
    released 0 -> 255 (ignored), see :func:`geonrw_label_to_train_id`.
    They are read by ``dict(type='LoadSegLabel', reduce='geonrw',
    num_classes=10)`` from ``seg_map_path`` (``_seg.tif`` of a tile,
    ``_seg.png`` of a patch; both layouts list it with ``with_label``):
    segmentation trains on patches and evaluates on the full 1000 x 1000
    tiles (``configs/_base_/datasets/geonrw_seg.py``).

    Args:
        data_root (str): Dataset root (the folder holding the city folders).
        split (str): 'train' or 'test'; selects the official city list
            unless ``cities`` is given. Defaults to 'train'.
        layout (str): 'tiles' or 'patches'. Defaults to 'tiles'.
        cities (Sequence[str], optional): Cities to use instead of the
            split's official list. Defaults to None.
        with_label (bool): Require and list the label map. Defaults to True.
        pipeline (Sequence[dict | callable]): Transforms. Defaults to ().
        **kwargs: :class:`MultiModalDataset` arguments (e.g.
            ``skip_bad_samples``).
    """

    METAINFO = dict(classes=GEONRW_CLASSES, modalities=('rgb', 'dem'))

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 layout: str = 'tiles',
                 cities: Optional[Union[str, Sequence[str]]] = None,
                 with_label: bool = True,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if layout not in GEONRW_LAYOUTS:
            raise ValueError(f'layout must be one of {list(GEONRW_LAYOUTS)}, '
                             f'got {layout!r}')
        if cities is None:
            if split not in _SPLIT_CITIES:
                raise ValueError(f'split must be one of {list(_SPLIT_CITIES)}'
                                 f' (or give cities), got {split!r}')
            cities = _SPLIT_CITIES[split]
        elif isinstance(cities, str):
            cities = (cities, )
        if not cities:
            raise ValueError('cities must not be empty')
        self.split = split
        self.layout = layout
        self.cities = tuple(sorted(set(cities)))
        self.with_label = with_label
        super().__init__(data_root=data_root, pipeline=pipeline, **kwargs)

    def _parse(self, stem: str) -> Optional[Tuple[str, Optional[int]]]:
        """(tile, patch index) of a file stem, None if it is no sample."""
        fields = stem.split('_')
        if len(fields) != GEONRW_LAYOUTS[
                self.layout]['fields'] or not all(fields):
            return None
        if self.layout == 'patches':
            if not fields[2].isdigit():
                return None
            return '_'.join(fields[:2]), int(fields[2])
        return '_'.join(fields[:2]), None

    def load_data_list(self) -> List[dict]:
        """List the samples of the split's cities.

        Returns:
            list[dict]: One data info per RGB file.
        """
        if not osp.isdir(self.data_root):
            raise MissingFileError(
                f'GeoNRW root folder not found: {self.data_root}',
                self.data_root)
        fmt = GEONRW_LAYOUTS[self.layout]
        partners = dict(dem=fmt['dem'])
        if self.with_label:
            partners['seg_map'] = fmt['seg']
        found, problems, absent = [], [], []
        for city in self.cities:
            folder = osp.join(self.data_root, city)
            if not osp.isdir(folder):
                absent.append(city)
                continue
            files = set(os.listdir(folder))
            for file in files:
                if not file.endswith(fmt['rgb']):
                    continue
                stem = file[:-len(fmt['rgb'])]
                parsed = self._parse(stem)
                path = osp.join(folder, file)
                if parsed is None:
                    want = ('<E>_<N>_<k>'
                            if self.layout == 'patches' else '<E>_<N>')
                    problems.append(
                        DataProblem(
                            path, 'name', f'{path}: not a GeoNRW '
                            f'{self.layout} file name ({want}{fmt["rgb"]})'))
                    continue
                found.append((city, stem, parsed, files))

        if len(absent) == len(self.cities):
            raise MissingFileError(
                f'none of the {len(self.cities)} {self.split} cities has a '
                f'folder in {self.data_root} (e.g. {absent[0]!r})',
                self.data_root)
        if absent:
            # Subsets of GeoNRW (a few cities) are legitimate.
            print_log(
                f'GeoNRW {self.split}: {len(absent)} of {len(self.cities)} '
                f'cities have no folder in {self.data_root}: {absent}',
                logger='current',
                level=30)
        found.sort(key=lambda s: (s[0], _sort_key(s[1].split('_'))))
        data_list, bad = [], []
        for city, stem, (tile, k), files in found:
            folder = osp.join(self.data_root, city)
            rgb = osp.join(folder, stem + fmt['rgb'])
            paths = {
                key: osp.join(folder, stem + suffix)
                for key, suffix in partners.items()
            }
            for key, suffix in partners.items():
                if stem + suffix not in files:
                    problems.append(
                        DataProblem(
                            paths[key], 'missing', f'{paths[key]} ({key} '
                            f'partner of {rgb}) is missing'))
                    if not bad or bad[-1] != len(data_list):
                        bad.append(len(data_list))
            info = dict(
                img_paths=dict(rgb=rgb, dem=paths['dem']),
                city=city,
                tile=tile,
                name=stem)
            if k is not None:
                info['patch_index'] = k
            if self.with_label:
                info['seg_map_path'] = paths['seg_map']
            data_list.append(info)
        return self.checked(data_list, problems, bad)
