# The embedded demo with three modalities: 'rgb' (hue private), 'depth'
# (horizontal-stripe texture private) and 'thermal' (vertical-stripe grating
# private) share the object's shape, size and position. Every pair gets the
# cross-modal terms, every modality its intra term; the report checks that
# each modality's unique dims predict its own private factor and no other.
# With three modalities each encoder is in two cross-modal pairs: the
# cross terms are weighted 1 / (M - 1) = 1/2, so that every modality sees
# the cross-modal to intra-modal balance of the two-modality demo (with
# weight 1, depth's weak texture factor is lost to the cross terms: its
# unique dims then predict it at 0.31, chance 0.25).
#   python tools/train.py configs/decur/demo_synthetic3.py
_base_ = './demo_synthetic.py'
modalities = ('rgb', 'depth', 'thermal')
model = dict(loss=dict(loss_weights=dict(com=0.5, uni=0.5, intra=1.0)))

data_preprocessor = dict(
    modalities=dict(thermal=dict(mean=[127.5], std=[64.0])))
train_pipeline = [
    dict(
        type='MultiModalMultiView',
        num_views=2,
        transforms=dict(
            rgb={{_base_.rgb_view}},
            depth={{_base_.depth_view}},
            thermal={{_base_.depth_view}})),
    dict(type='PackMultiModalInputs'),
]
test_pipeline = [
    dict(
        type='MultiModalMultiView',
        num_views=1,
        transforms=dict(rgb=[], depth=[], thermal=[])),
    dict(type='PackMultiModalInputs'),
]
train_dataloader = dict(
    dataset=dict(modalities=modalities, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(modalities=modalities, pipeline=test_pipeline))
