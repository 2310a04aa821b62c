# DeCUR on SUN-RGBD (RGB + HHA) with MiT-B5 encoders (for CMX-B5 on NYUDv2).
_base_ = './rgbd_mitb2.py'
model = dict(backbone=dict(arch='b5'))
