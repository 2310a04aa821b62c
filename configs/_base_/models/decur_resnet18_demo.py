# The demos' DeCUR: a small ResNet-18 (16-channel stem) per modality and
# 512-d embeddings, trainable on CPU in minutes.
_base_ = './decur_resnet50.py'
model = dict(
    backbone=dict(depth=18, base_channels=16, stem_channels=16),
    projector=dict(hid_channels=512, out_channels=512))
