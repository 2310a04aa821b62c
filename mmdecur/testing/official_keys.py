# Copyright (c) mmdecur contributors. All rights reserved.
"""(key, shape) lists of the official checkpoints' layouts, written from the
released key names (reference notes), for converter tests."""

# Official CMX encoder settings (models/encoders/dual_segformer.py, mit_b*).
OFFICIAL_ARCHS = {
    'b0': dict(dims=[32, 64, 160, 256], depths=[2, 2, 2, 2]),
    'b2': dict(dims=[64, 128, 320, 512], depths=[3, 4, 6, 3]),
}
SR_RATIOS = [8, 4, 2, 1]
PATCH_SIZES = [7, 3, 3, 3]


def official_mit_keys(dims, depths, in_channels=3, prefix=''):
    """(key, shape) of one SegFormer/CMX MiT stream, in module order."""
    patch, blocks = [], []
    cin = in_channels
    for i, (c, depth, sr,
            k) in enumerate(zip(dims, depths, SR_RATIOS, PATCH_SIZES), 1):
        pe = f'{prefix}patch_embed{i}'
        patch += [(f'{pe}.proj.weight', (c, cin, k, k)),
                  (f'{pe}.proj.bias', (c, )), (f'{pe}.norm.weight', (c, )),
                  (f'{pe}.norm.bias', (c, ))]
        stage = []
        for j in range(depth):
            b = f'{prefix}block{i}.{j}'
            stage += [(f'{b}.norm1.weight', (c, )), (f'{b}.norm1.bias', (c, )),
                      (f'{b}.attn.q.weight', (c, c)),
                      (f'{b}.attn.q.bias', (c, )),
                      (f'{b}.attn.kv.weight', (2 * c, c)),
                      (f'{b}.attn.kv.bias', (2 * c, )),
                      (f'{b}.attn.proj.weight', (c, c)),
                      (f'{b}.attn.proj.bias', (c, ))]
            if sr > 1:
                stage += [(f'{b}.attn.sr.weight', (c, c, sr, sr)),
                          (f'{b}.attn.sr.bias', (c, )),
                          (f'{b}.attn.norm.weight', (c, )),
                          (f'{b}.attn.norm.bias', (c, ))]
            stage += [(f'{b}.norm2.weight', (c, )), (f'{b}.norm2.bias', (c, )),
                      (f'{b}.mlp.fc1.weight', (4 * c, c)),
                      (f'{b}.mlp.fc1.bias', (4 * c, )),
                      (f'{b}.mlp.dwconv.dwconv.weight', (4 * c, 1, 3, 3)),
                      (f'{b}.mlp.dwconv.dwconv.bias', (4 * c, )),
                      (f'{b}.mlp.fc2.weight', (c, 4 * c)),
                      (f'{b}.mlp.fc2.bias', (c, ))]
        stage += [(f'{prefix}norm{i}.weight', (c, )),
                  (f'{prefix}norm{i}.bias', (c, ))]
        blocks.append(stage)
        cin = c
    return patch, blocks


def official_deform_attn_keys(prefix, channels, num_heads, num_groups, kernel,
                              rpe):
    """The official ``DAttentionBaseline`` parameters (DeCUR's da*_l*)."""
    gc = channels // num_groups
    keys = [(f'{prefix}conv_offset.0.weight', (gc, 1, kernel, kernel)),
            (f'{prefix}conv_offset.0.bias', (gc, )),
            (f'{prefix}conv_offset.1.norm.weight', (gc, )),
            (f'{prefix}conv_offset.1.norm.bias', (gc, )),
            (f'{prefix}conv_offset.3.weight', (2, gc, 1, 1))]
    for p in ('q', 'k', 'v', 'out'):
        keys += [(f'{prefix}proj_{p}.weight', (channels, channels, 1, 1)),
                 (f'{prefix}proj_{p}.bias', (channels, ))]
    keys.append((f'{prefix}rpe_table', (num_heads, 2 * rpe - 1, 2 * rpe - 1)))
    return keys


#: DeCUR's RDA modules (stage 3: 8 x 128, 4 groups, k5, 14 px; stage 4:
#: 16 x 128, 8 groups, k3, 7 px).
OFFICIAL_DA = dict(
    l3=dict(channels=1024, num_heads=8, num_groups=4, kernel=5, rpe=14),
    l4=dict(channels=2048, num_heads=16, num_groups=8, kernel=3, rpe=7))


def official_projector_keys(prefix, in_channels, width=8192):
    """``projector{1,2}``: Linear-BN-ReLU-Linear-BN-ReLU-Linear, no bias."""
    keys = [(f'{prefix}0.weight', (width, in_channels)),
            (f'{prefix}3.weight', (width, width)),
            (f'{prefix}6.weight', (width, width))]
    for i in (1, 4):
        keys += [(f'{prefix}{i}.weight', (width, )),
                 (f'{prefix}{i}.bias', (width, )),
                 (f'{prefix}{i}.running_mean', (width, )),
                 (f'{prefix}{i}.running_var', (width, )),
                 (f'{prefix}{i}.num_batches_tracked', ())]
    return keys
