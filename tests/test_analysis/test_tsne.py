# Copyright (c) mmdecur contributors. All rights reserved.
import numpy as np
import pytest
import torch

from mmdecur.analysis import (dimension_vectors, plot_tsne, save_tsne_csv,
                              tsne_of_dimensions)


def decoupled_embeddings(n=300, kc=12, ku=6, seed=0):
    """Common dims shared by both modalities, unique dims private noise."""
    g = torch.Generator().manual_seed(seed)
    common = torch.randn(n, kc, generator=g)
    z1 = torch.cat([common, torch.randn(n, ku, generator=g)], 1)
    z2 = torch.cat([
        common + 0.01 * torch.randn(n, kc, generator=g),
        torch.randn(n, ku, generator=g)
    ], 1)
    return z1, z2


def test_dimension_vectors_are_centred_unit_rows():
    z = torch.randn(50, 4) + 10
    v = dimension_vectors(z)
    assert v.shape == (4, 50)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(v.sum(1), 0, atol=1e-9)
    # Centred unit vectors: squared distance = 2 - 2 corr.
    corr = np.corrcoef(z.T.numpy())[0, 1]
    assert np.sum((v[0] - v[1])**2) == pytest.approx(2 - 2 * corr)
    assert dimension_vectors(torch.ones(5, 2)).sum() == 0  # constant dims


def test_one_row_per_dimension_with_group_labels(tmp_path):
    z1, z2 = decoupled_embeddings()
    res = tsne_of_dimensions(
        z1, z2, 12, modalities=('rgb', 'depth'), max_iter=1000)
    assert res['coords'].shape == (36, 2)
    # Order of the official notebook: [z1_c, z2_c, z1_u, z2_u].
    assert res['modality'] == ['rgb'] * 12 + ['depth'] * 12 + ['rgb'] * 6 + [
        'depth'
    ] * 6
    assert res['group'] == ['common'] * 24 + ['unique'] * 12
    assert res['dim'] == list(range(12)) * 2 + list(range(12, 18)) * 2
    # 36 points: perplexity lowered from 40 to (36 - 1) / 3.
    assert res['perplexity'] == pytest.approx(35 / 3)

    # A common dim of one modality lands next to the same dim of the other.
    c = res['coords']
    d = np.linalg.norm(c[:, None] - c[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert (d[:12].argmin(1) == np.arange(12, 24)).all()

    csv_file, png = tmp_path / 't.csv', tmp_path / 't.png'
    save_tsne_csv(res, str(csv_file))
    rows = csv_file.read_text().splitlines()
    assert rows[0] == 'modality,group,dim,x,y' and len(rows) == 37
    assert rows[13].startswith('depth,common,0,')
    plot_tsne(res, str(png))
    assert png.read_bytes()[:4] == b'\x89PNG'


def test_bad_shapes_are_rejected():
    z1, z2 = decoupled_embeddings()
    with pytest.raises(ValueError, match='equal shape'):
        tsne_of_dimensions(z1, z2[:, :5], 3)
    with pytest.raises(ValueError, match='dim_common'):
        tsne_of_dimensions(z1, z2, 40)
