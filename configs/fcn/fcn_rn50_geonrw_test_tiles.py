# fcn_rn50_geonrw.py evaluated on the released 1000 x 1000 test tiles
# (instead of their 250 px patches), with overlapping 250 px windows.
#   python tools/test.py configs/fcn/fcn_rn50_geonrw_test_tiles.py CKPT
_base_ = './fcn_rn50_geonrw.py'
model = dict(
    test_cfg=dict(mode='slide', crop_size=(250, 250), stride=(166, 166)))
test_dataloader = _base_.tiles_test_dataloader
