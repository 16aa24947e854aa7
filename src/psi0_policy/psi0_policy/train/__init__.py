"""Training pipeline: stage 1 (VLM pre-training on FAST action tokens), stage 2 (action-expert post-training),
stage 3 (task fine-tuning), export of a deployable bundle. One code path from a CPU `tiny` run to torchrun
DDP/FSDP on a GPU cluster; only the config differs."""
