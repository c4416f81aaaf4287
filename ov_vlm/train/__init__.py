"""Training: recipes, freeze policy and learning-rate groups, the Trainer, LoRA, run records.

Run with ``ov-vlm train RECIPE.yaml`` or ``python -m ov_vlm.train.run RECIPE.yaml`` under a launcher.
"""
