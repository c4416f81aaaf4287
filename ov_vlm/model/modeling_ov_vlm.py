"""`OVVLMForConditionalGeneration`: vision encoder -> projector -> causal LM, LLaVA-style, as a transformers model.

Visual inputs are lists, one entry per image or video in the order their placeholders appear in the batch
(sample by sample): ``pixel_values[i]`` is ``[C, H, W]`` (an image) or ``[C, T, H, W]`` (frames or codec mosaics),
``patch_positions[i]`` the (t, h, w) of its tokens (positional encoders) or None. Their projected features replace
the placeholder tokens (``image_token_id`` / ``video_token_id``) of ``input_ids``; the counts must match exactly.

In training (and whenever ZeRO-3 shards the weights), a batch without visuals still runs the vision tower and the
projector, on one tiny black image whose features enter the embeddings with weight zero: every process then runs
the same modules in the same order whatever its batch holds, so DeepSpeed's parameter gathers and gradient
reductions match across ranks (no collective mismatch or hang), while the loss and all gradients stay exactly those
of the text-only batch (the tower's and projector's gradients are zero).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from transformers import AutoModelForCausalLM, GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.utils.deprecation import deprecate_kwarg

from ov_vlm.encoders import get_encoder
from ov_vlm.processing.layout import pixel_grid
from ov_vlm.utils.loading import StrictLoadingMixin

from .configuration_ov_vlm import OVVLMConfig
from .feature_cache import FrozenTowerCache
from .projector import Projector, build_projector, projector_merge


class OVVLMPreTrainedModel(StrictLoadingMixin, PreTrainedModel):
    config: OVVLMConfig
    config_class = OVVLMConfig
    base_model_prefix = "ov_vlm"
    main_input_name = "input_ids"
    input_modalities = ("image", "video", "text")
    supports_gradient_checkpointing = True
    _skip_keys_device_placement = ["cache"]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, Projector):
            std = getattr(self.config.text_config, "initializer_range", 0.02)
            for layer in module.modules():
                if isinstance(layer, nn.Linear):
                    init.normal_(layer.weight, std=std)
                    init.zeros_(layer.bias)


class OVVLMForConditionalGeneration(OVVLMPreTrainedModel, GenerationMixin):
    """Vision tower (``vision_tower``), projector (``multi_modal_projector``) and causal LM (``language_model``)."""

    def __init__(self, config: OVVLMConfig):
        super().__init__(config)
        encoder = get_encoder(config.vision_encoder)
        self.vision_tower = encoder.build(config.vision_config)
        self.multi_modal_projector = build_projector(
            config.projector_type,
            encoder.hidden_size(config.vision_config),
            config.text_config.hidden_size,
            config.projector_hidden_act,
        )
        self.language_model = AutoModelForCausalLM.from_config(config.text_config)
        self.frozen_tower_cache: FrozenTowerCache | None = None  # a training-time option, never saved
        self.post_init()

    # --------------------------------------------------------------------------------------------- embeddings

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.language_model.get_output_embeddings()

    def set_output_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_output_embeddings(value)

    # --------------------------------------------------------------------------------------------- vision

    @property
    def patch_size(self) -> int:
        return get_encoder(self.config.vision_encoder).patch_size(self.config.vision_config)

    def get_visual_features(
        self,
        pixel_values: Sequence[torch.Tensor],
        patch_positions: Sequence[torch.Tensor | None] | None = None,
        visual_grids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Projected features of every visual, packed in order: [sum of LLM tokens, text hidden size].

        ``visual_grids`` ([n, 3] (frames, rows, cols), the processor's token layouts) defaults to the pixels' grids.
        """
        pixel_values = list(pixel_values)
        positions = list(patch_positions) if patch_positions is not None else [None] * len(pixel_values)
        if len(positions) != len(pixel_values):
            raise ValueError(f"got {len(pixel_values)} visuals but {len(positions)} patch_positions entries")
        if visual_grids is None:
            grids = [pixel_grid(pixels.shape, self.patch_size) for pixels in pixel_values]
        else:
            grids = [tuple(grid) for grid in visual_grids.tolist()]
        if len(grids) != len(pixel_values):
            raise ValueError(f"got {len(pixel_values)} visuals but {len(grids)} visual_grids rows")
        dtype = next(self.vision_tower.parameters()).dtype
        pixel_values = [pixels.to(dtype) for pixels in pixel_values]
        encoder = get_encoder(self.config.vision_encoder)

        def encode(pixels: list[torch.Tensor], places: list[torch.Tensor | None]):
            return encoder.encode(self.vision_tower, pixels, places, layer=self.config.vision_feature_layer)

        if self.frozen_tower_cache is None:
            features = encode(pixel_values, positions)
        else:
            self._check_tower_weights()
            features = self.frozen_tower_cache.encode(encode, pixel_values, positions)
        return self.multi_modal_projector(features.features, grids, features.lengths)

    def enable_frozen_tower_cache(self, budget_mb: int) -> FrozenTowerCache:
        """Compute each visual's tower features once and read them back after (`FrozenTowerCache`, up to
        ``budget_mb``): for training the projector and the LLM over a frozen tower, several passes over the data."""
        self._check_tower_weights()
        config = self.config.vision_config
        dropout = [getattr(config, name, 0.0) or 0.0 for name in ("attention_dropout", "hidden_dropout", "dropout")]
        dropout += [module.p for module in self.vision_tower.modules() if isinstance(module, nn.Dropout)]
        if any(p > 0 for p in dropout):  # checked whatever the mode now: the model trains next
            raise ValueError("the frozen tower cache needs a tower without dropout (its features would be random)")
        self.frozen_tower_cache = FrozenTowerCache(budget_mb * 2**20)
        return self.frozen_tower_cache

    def _check_tower_weights(self) -> None:
        """The cache's conditions on every use: no tower weight trains, and the weights are not sharded (ZeRO-3)."""
        parameters = list(self.vision_tower.parameters())
        if any(parameter.requires_grad for parameter in parameters):
            raise ValueError("the frozen tower cache needs a frozen vision tower (some of its weights train)")
        if any(hasattr(parameter, "ds_id") for parameter in parameters):
            raise ValueError("the frozen tower cache cannot run under ZeRO-3: every process must run the sharded tower")

    def dummy_pixel_values(self) -> torch.Tensor:
        """The smallest image the tower and projector accept: black, one grid unit (merge x tower multiple) wide."""
        config, vision = self.config, self.config.vision_config
        cells = get_encoder(config.vision_encoder).grid_multiple(vision) * projector_merge(config.projector_type)
        side = cells * self.patch_size
        channels = getattr(vision, "num_channels", None) or getattr(vision, "in_channels", 3)
        weight = next(self.vision_tower.parameters())
        return torch.zeros(channels, side, side, dtype=weight.dtype, device=weight.device)

    def runs_dummy_visual(self) -> bool:
        """Whether a batch without visuals runs the tower anyway: in training, and under ZeRO-3 (sharded weights)."""
        return self.training or hasattr(next(self.vision_tower.parameters()), "ds_id")

    def dummy_visual_term(self) -> torch.Tensor:
        """A zero-valued scalar computed through the tower and projector (from `dummy_pixel_values`)."""
        return self.get_visual_features([self.dummy_pixel_values()]).sum() * 0.0

    def placeholder_mask(self, input_ids: torch.Tensor) -> torch.Tensor:
        return (input_ids == self.config.image_token_id) | (input_ids == self.config.video_token_id)

    # --------------------------------------------------------------------------------------------- forward

    @deprecate_kwarg("past_key_values", "6.0.0", new_name="cache")  # transformers 5.24 renamed it
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache=None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        pixel_values: Sequence[torch.Tensor] | None = None,
        patch_positions: Sequence[torch.Tensor | None] | None = None,
        visual_grids: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        skip_logits: bool | None = None,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        r"""
        pixel_values: list of ``[C, H, W]`` / ``[C, T, H, W]`` tensors, one per placeholder group, in order.
        patch_positions: list of ``[N_i, 3]`` (t, h, w) tensors (or None) matching ``pixel_values``.
        visual_grids: ``[n, 3]`` (frames, rows, cols) patch grid of each visual (the processor's token layouts;
            default: read off the pixels).
        skip_logits: with ``labels``, project only the supervised positions onto the vocabulary (the loss is the
            same, up to float rounding) and return ``logits=None``. Default: in training, with labels and no
            ``logits_to_keep`` (the full ``[batch, length, vocab]`` logits are the largest activation of a step).
        Other arguments are those of the language model; ``labels`` use -100 for unsupervised positions.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        has_visuals = pixel_values is not None and len(pixel_values) > 0
        if has_visuals:
            if input_ids is None:
                raise ValueError("visual inputs need input_ids to find their placeholder tokens")
            features = self.get_visual_features(pixel_values, patch_positions, visual_grids)
            mask = self.placeholder_mask(input_ids)
            count = int(mask.sum())
            if count != features.shape[0]:
                raise ValueError(
                    f"visual features and placeholder tokens do not match: {count} placeholder tokens in input_ids, "
                    f"{features.shape[0]} visual features from {len(pixel_values)} visual(s)"
                )
            features = features.to(inputs_embeds.device, inputs_embeds.dtype)
            inputs_embeds = inputs_embeds.masked_scatter(mask.unsqueeze(-1), features)
        elif input_ids is not None and _is_prefill(cache) and bool(self.placeholder_mask(input_ids).any()):
            count = int(self.placeholder_mask(input_ids).sum())
            raise ValueError(f"input_ids hold {count} visual placeholder tokens but no pixel_values were given")
        # decode steps carry no visuals on any process, so they skip the tower everywhere alike
        if not has_visuals and _is_prefill(cache) and self.runs_dummy_visual():
            inputs_embeds = inputs_embeds + self.dummy_visual_term().to(inputs_embeds)
        keeps_all = isinstance(logits_to_keep, int) and logits_to_keep == 0
        if skip_logits is None:
            skip_logits = self.training and labels is not None and keeps_all
        if skip_logits:
            if labels is None:
                raise ValueError("skip_logits needs labels: it computes the loss on the supervised positions only")
            if not keeps_all:
                raise ValueError("skip_logits and logits_to_keep exclude each other: skip_logits picks the positions")
            inputs = dict(attention_mask=attention_mask, position_ids=position_ids, cache=cache, use_cache=use_cache)
            return self._supervised_loss(inputs_embeds, labels, inputs, **kwargs)
        return self.language_model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            labels=labels,
            use_cache=use_cache,
            logits_to_keep=logits_to_keep,
            **kwargs,
        )

    def _supervised_loss(
        self, inputs_embeds: torch.Tensor, labels: torch.Tensor, inputs: dict, **kwargs
    ) -> CausalLMOutputWithPast:
        """The language model's causal-LM loss with logits at the supervised positions only (``logits=None``);
        ``inputs`` are the language model's other inputs, ``kwargs`` go to it and to its loss, as it passes them."""
        ignore_index = kwargs.get("ignore_index", -100)
        targets = kwargs.pop("shift_labels", None)
        if targets is None:  # position i predicts token i + 1, as the language model's own loss shifts them
            targets = nn.functional.pad(labels[:, 1:], (0, 1), value=ignore_index)
        targets = targets.to(inputs_embeds.device)
        keep = targets != ignore_index
        language_model = self.language_model
        outputs = language_model(inputs_embeds=inputs_embeds, logits_to_keep=keep, **inputs, **kwargs)
        loss = language_model.loss_function(
            logits=outputs.logits,
            labels=None,
            vocab_size=language_model.config.vocab_size,
            shift_labels=targets[keep],
            **kwargs,
        )
        return CausalLMOutputWithPast(
            loss=loss, cache=outputs.cache, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )

    def generate(self, *args, **kwargs):
        """`GenerationMixin.generate`; visual inputs are per visual, so beams / several sequences are not supported."""
        config = kwargs.get("generation_config")
        beams = kwargs.get("num_beams", getattr(config, "num_beams", 1) or 1)
        sequences = kwargs.get("num_return_sequences", getattr(config, "num_return_sequences", 1) or 1)
        if kwargs.get("pixel_values") and (beams > 1 or sequences > 1):
            raise NotImplementedError("beam search and num_return_sequences > 1 are not supported with visual inputs")
        return super().generate(*args, **kwargs)


def _is_prefill(cache) -> bool:
    if cache is None:
        return True
    length = getattr(cache, "get_seq_length", None)
    return length is None or length() == 0
