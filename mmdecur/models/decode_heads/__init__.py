# Copyright (c) mmdecur contributors. All rights reserved.
from .cmx_mlp_head import CMXMLPHead
from .multimodal_fcn_head import MultiModalFCNHead

__all__ = ['MultiModalFCNHead', 'CMXMLPHead']
