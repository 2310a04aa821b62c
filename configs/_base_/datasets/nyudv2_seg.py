# NYUDv2 RGB + HHA semantic segmentation (40 classes), CMX layout
# (RGB/<name>.jpg, HHA/<name>.jpg, Label/<name>.png, train.txt / test.txt:
# 795 / 654 images, 480 x 640). CMX's recipe: random scale from
# {0.5, ..., 1.75}, random crop (padded with 0, labels with 255 = ignore) and
# horizontal flip, nothing photometric; labels shifted by CMX's uint8
# `label - 1` (void 0 -> 255). Evaluation on the full test images (sliding
# windows are the model's test_cfg); there is no separate val split, so val =
# test as in CMX.
#
# Inherits SUN-RGBD pretraining (where DeCUR pretrains the RGB-D encoders) for
# what must agree between pretraining and transfer: the reader (both
# modalities in file = RGB channel order) and the per-modality ImageNet
# normalisation. CMX fed BGR with RGB statistics; mmdecur does not.
# A sample flows as: inputs = {rgb: 3xHxW uint8, hha: 3xHxW uint8},
# data_samples = SegDataSample(gt_sem_seg 1xHxW, ignore 255);
# pseudo_collate keeps them as lists (test images differ in size) and the
# data preprocessor normalises, pads and stacks.
_base_ = './sunrgbd_pretrain.py'

dataset_type = 'RGBXDataset'
data_root = 'data/nyudv2'
classes = 'nyudv2'
num_classes = 40
crop_size = (480, 640)  # (H, W)
# Folder per modality (the fcn/*_rgb_hha_depth.py configs add depth='Depth').
modality_dirs = dict(rgb='RGB', hha='HHA')

data_preprocessor = dict(
    type='MultiModalSegDataPreProcessor',
    size=crop_size,
    pad_val=0,
    seg_pad_val=255)  # modalities (mean/std): from sunrgbd_pretrain.py

load_images = _base_.train_pipeline[0]  # LoadModalities, rgb + hha
load_label = dict(type='LoadSegLabel', reduce='cmx', num_classes=num_classes)
random_scale = dict(
    type='RandomResizeND', scales=(0.5, 0.75, 1.0, 1.25, 1.5, 1.75))
random_crop = dict(type='RandomCropND', size=crop_size, cat_max_ratio=1.0)
random_flip = dict(type='RandomFlipND', prob=0.5, direction='horizontal')
pack = dict(type='PackMultiModalSegInputs')
train_pipeline = [
    load_images, load_label, random_scale, random_crop, random_flip, pack
]
test_pipeline = [load_images, load_label, pack]

# CMX: batch 8 in total. This is 8 per GPU for ONE GPU; with N GPUs set
# batch_size=8 // N (or scale the learning rate).
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='train',
        modality_dirs=modality_dirs,
        classes=classes,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        modality_dirs=modality_dirs,
        classes=classes,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
