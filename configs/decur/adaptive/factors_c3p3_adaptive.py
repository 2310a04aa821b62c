# The adaptive common ratio on factors_c3p3_fixed.py's data (true common
# fraction 0.25), started from a wrong split (10 % common).
_base_ = './factors_c3p3_fixed.py'
model = dict(loss=dict(common_ratio=0.1, adaptive_split=dict(start_epoch=3)))
