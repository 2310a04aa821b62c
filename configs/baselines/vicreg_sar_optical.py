# Cross-modal VICReg on SSL4EO-S12 SAR (S1) + optical (S2 L1C) (DeCUR's
# "VICReg" row): configs/decur/sar_optical_rn50.py with VICReg between the
# modalities' first views (invariance, variance and covariance over the global
# batch; the VICReg paper's coefficients).
_base_ = '../decur/sar_optical_rn50.py'
model = dict(
    type='VICReg',
    loss=dict(
        _delete_=True,
        type='VICRegLoss',
        sim_coeff=25.,
        std_coeff=25.,
        cov_coeff=1.))
