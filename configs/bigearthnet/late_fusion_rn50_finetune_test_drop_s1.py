# late_fusion_rn50_finetune.py evaluated with the SAR (S1) input missing: at
# test time S1 is its mean image while S2 is real. The network's S1 input is
# StatsScale's (x - (mean - 2 std)) / (4 std) -> uint8, then / 255, so the
# band mean is 0.5 there (not 0: this preprocessor has mean 0, std 255).
# Training is that of late_fusion_rn50_finetune.py.
#   python tools/test.py \
#       configs/bigearthnet/late_fusion_rn50_finetune_test_drop_s1.py \
#       work_dirs/late_fusion_rn50_finetune/best_*.pth
# S2 instead: drop_modalities=dict(s2=[0.5] * 10 + [0.] + [0.5] * 2) (its
# B10 band is always 0 in the data, so it stays 0).
_base_ = './late_fusion_rn50_finetune.py'
model = dict(test_cfg=dict(drop_modalities=dict(s1=0.5)))
