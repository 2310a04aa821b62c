# SSL4EO-S12 as written by tools/dataset_converters/ssl4eo_s12_to_lmdb.py:
# the same samples and pipeline as ssl4eo_s12.py, one LMDB read per season.
_base_ = ['./ssl4eo_s12.py']

train_dataloader = dict(
    dataset=dict(
        type='SSL4EOS12LMDBDataset',
        data_root='data/ssl4eo-s12/ssl4eo_s12_s1_s2c.lmdb'))
