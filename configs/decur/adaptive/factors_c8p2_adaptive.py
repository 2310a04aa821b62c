# The adaptive common ratio on the factor dataset of factors_c8p2_fixed.py
# (true common fraction 7/15 = 0.467), started from a wrong split (25 %
# common). CommonSplitHook revises the split after every epoch from epoch 3
# on, logs Kc, and writes work_dirs/<run>/common_split.json
# (tools/analysis_tools/plot_common_split.py draws it).
_base_ = './factors_c8p2_fixed.py'
model = dict(loss=dict(common_ratio=0.25, adaptive_split=dict(start_epoch=3)))
