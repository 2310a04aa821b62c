# Copyright (c) mmdecur contributors. All rights reserved.
"""JPEG 2000 header fix-ups applied before decoding."""
from typing import Iterator, Tuple

__all__ = ['jp2_grey_flag_to_srgb']

_JP2_SIGNATURE = b'\x00\x00\x00\x0cjP  \r\n\x87\n'
_ENUMCS_SRGB, _ENUMCS_GREY = 16, 17


def _jp2_boxes(data: bytes, start: int,
               end: int) -> Iterator[Tuple[bytes, int, int]]:
    """(type, payload start, box end) of the JP2 boxes in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        length = int.from_bytes(data[pos:pos + 4], 'big')
        header = 8
        if length == 1:  # 64-bit XLBox follows the type
            if pos + 16 > end:
                return
            length, header = int.from_bytes(data[pos + 8:pos + 16], 'big'), 16
        elif length == 0:  # last box, runs to the end
            length = end - pos
        if length < header or pos + length > end:
            return
        yield bytes(data[pos + 4:pos + 8]), pos + header, pos + length
        pos += length


def jp2_grey_flag_to_srgb(data: bytes) -> bytes:
    """Relabel a 3-band JP2 that claims to be greyscale as sRGB.

    Some GDAL-written GeoNRW JP2 files carry the greyscale colour-space flag
    (``colr`` box, EnumCS 17) on 3-band data. OpenCV honours the flag: it
    decodes such a file to 3 bands that all repeat the first (red) band,
    without any warning, so a band-count check does not catch it. This
    rewrites the flag to sRGB (EnumCS 16) in memory; the codestream is
    untouched, so decoding then returns the three stored bands.

    Args:
        data (bytes): Contents of a ``.jp2`` file.

    Returns:
        bytes: ``data`` itself if there is nothing to fix (not a JP2 file,
        no enumerated colour space, not greyscale, or fewer than 3 bands),
        else a patched copy.
    """
    if not data.startswith(_JP2_SIGNATURE):
        return data
    for box, start, end in _jp2_boxes(data, 0, len(data)):
        if box != b'jp2h':
            continue
        num_bands, colr = None, None
        for sub, s, e in _jp2_boxes(data, start, end):
            if sub == b'ihdr' and e - s >= 10:
                num_bands = int.from_bytes(data[s + 8:s + 10], 'big')
            elif sub == b'colr' and colr is None:  # the first one rules
                colr = s if e - s >= 7 else None
        if (num_bands is None or num_bands < 3 or colr is None
                or data[colr] != 1  # METH 1: enumerated colour space
                or int.from_bytes(data[colr + 3:colr + 7],
                                  'big') != _ENUMCS_GREY):
            return data
        fixed = bytearray(data)
        fixed[colr + 3:colr + 7] = _ENUMCS_SRGB.to_bytes(4, 'big')
        return bytes(fixed)
    return data
