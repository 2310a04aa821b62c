# DeCUR on SSL4EO-S12 (S1 + S2 L1C) with ViT-S/16 encoders (CLS token):
# Kc = 87.5 % of 8192, AdamW (as the official ViT run), 100 epochs, 4 x 64.
_base_ = [
    '../_base_/models/decur_vits16.py',
    '../_base_/datasets/ssl4eo_s12.py',
    '../_base_/schedules/adamw_coslr_100e.py',
    '../_base_/default_runtime.py',
]
model = dict(loss=dict(common_ratio=0.875))
