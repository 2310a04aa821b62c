# sar_optical3_rn50.py from the LMDB of tools/dataset_converters/
# ssl4eo_s12_to_lmdb.py (raw values, or --prescale with this config): the
# same samples, one read per season.
_base_ = './sar_optical3_rn50.py'
train_dataloader = dict(
    dataset=dict(
        type='SSL4EOS12LMDBDataset',
        data_root='data/ssl4eo-s12/ssl4eo_s12_s1_s2c_s2a.lmdb'))
