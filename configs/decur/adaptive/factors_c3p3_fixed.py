# As factors_c8p2_fixed.py with one common and one private factor of 3
# levels each: the common fraction is (3 - 1) / (3 * 3 - 1) = 0.25.
_base_ = './factors_c8p2_fixed.py'
factors = dict(levels=dict(common=3, private=3))
train_dataloader = dict(dataset=factors)
val_dataloader = dict(dataset=factors)
model = dict(loss=dict(common_ratio=0.25))
