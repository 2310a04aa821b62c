# Cross-modal VICReg on SUN-RGBD RGB + HHA (DeCUR's "VICReg" row):
# configs/decur/rgbd_rn50.py with VICReg between the modalities' first views
# (invariance, variance and covariance over the global batch; the VICReg
# paper's coefficients).
_base_ = '../decur/rgbd_rn50.py'
model = dict(
    type='VICReg',
    loss=dict(
        _delete_=True,
        type='VICRegLoss',
        sim_coeff=25.,
        std_coeff=25.,
        cov_coeff=1.))
