"""Choices that command-line parsers offer and the loaders accept: importable without torch or transformers."""

DTYPES = ("auto", "float32", "bfloat16", "float16")
ATTENTION = ("sdpa", "eager", "flash_attention_2")
