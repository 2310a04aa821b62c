# The embedded demo: DeCUR on the built-in synthetic two-modality dataset,
# on CPU in a few minutes (README's main command). A small ResNet-18 per
# modality, 512-d embeddings with 75 % common dimensions.
_base_ = [
    '../_base_/models/decur_resnet18_demo.py',
    '../_base_/datasets/synthetic.py',
    '../_base_/schedules/demo_adamw_20e.py',
    '../_base_/demo_runtime.py',
]
