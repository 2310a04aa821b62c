# Copyright (c) mmdecur contributors. All rights reserved.
"""Analysis of learned representations (library code; tools are thin)."""
from .alignment import (alignment_comparison, alignment_over_batches,
                        alignment_per_dim, alignment_summary, dim_common_of,
                        model_alignment, plot_alignment_comparison,
                        plot_alignment_histogram, require_common_split,
                        save_alignment_csv)
from .common_split import (load_split_history, plot_common_split,
                           split_history_arrays)
from .deform_points import (check_rda, deform_points, feature_pc1,
                            plot_deform_points, points_summary,
                            save_points_csv, to_pixels)
from .embeddings import extract_embeddings
from .probe import linear_probe
from .report import decoupling_report
from .saliency import (CommonUniqueTargets, band_importance, band_names_of,
                       default_gradcam_layer, display_image, gradcam_maps,
                       overlap_score, plot_band_importance,
                       plot_overlap_histogram, plot_saliency_examples,
                       saliency_statistics, saliency_summary,
                       save_saliency_csv)
from .tsne import (dimension_vectors, plot_tsne, save_tsne_csv,
                   tsne_of_dimensions)

__all__ = [
    'alignment_per_dim', 'alignment_summary', 'plot_alignment_histogram',
    'extract_embeddings', 'linear_probe', 'decoupling_report',
    'alignment_over_batches', 'alignment_comparison', 'dim_common_of',
    'model_alignment', 'plot_alignment_comparison', 'save_alignment_csv',
    'require_common_split', 'dimension_vectors', 'tsne_of_dimensions',
    'plot_tsne', 'save_tsne_csv', 'CommonUniqueTargets',
    'default_gradcam_layer', 'gradcam_maps', 'band_importance',
    'overlap_score', 'band_names_of', 'display_image', 'saliency_statistics',
    'saliency_summary', 'save_saliency_csv', 'plot_overlap_histogram',
    'plot_band_importance', 'plot_saliency_examples', 'check_rda',
    'deform_points', 'feature_pc1', 'to_pixels', 'points_summary',
    'save_points_csv', 'plot_deform_points', 'load_split_history',
    'split_history_arrays', 'plot_common_split'
]
