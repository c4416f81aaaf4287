"""Image preprocessing without torchvision: CLIP equivalence, colour modes, native sizing, letterbox, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ov_vlm.processing.image import (
    CLIP_MEAN,
    CLIP_STD,
    ImageLoadError,
    ImagePreprocessor,
    letterbox,
    load_image,
    native_size,
    normalize,
)


def noise_image(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    array = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return Image.fromarray(array[..., 0] if channels == 1 else array, mode=mode)


def test_clip_mode_matches_transformers_clip_image_processor():
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    reference = CLIPImageProcessorPil(
        size={"shortest_edge": 448}, crop_size={"height": 448, "width": 448}, image_mean=CLIP_MEAN, image_std=CLIP_STD
    )
    ours = ImagePreprocessor(size=448, patch_size=14)
    for image in (noise_image(640, 480, seed=1), noise_image(300, 517, seed=2)):
        expected = reference(images=image, return_tensors="pt")["pixel_values"]
        got = ours(image)["pixel_values"]
        assert got.shape == expected.shape == (1, 3, 448, 448)
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_grey_rgba_and_palette_images_become_rgb(mode):
    image = noise_image(500, 460, "RGBA" if mode == "RGBA" else "RGB").convert(mode)
    pixels = ImagePreprocessor()(image)["pixel_values"]
    assert pixels.shape == (1, 3, 448, 448) and pixels.dtype == torch.float32


def test_transparent_pixels_are_composited_on_white():
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    rgb = load_image(image)
    assert rgb.mode == "RGB" and rgb.getpixel((5, 5)) == (255, 255, 255)


def test_normalize_is_clip_mean_std_channels_first():
    array = np.full((2, 3, 3), [255, 0, 128], dtype=np.uint8)
    tensor = normalize(array)
    assert tensor.shape == (3, 2, 3)
    expected = [
        (1.0 - CLIP_MEAN[0]) / CLIP_STD[0],
        (0.0 - CLIP_MEAN[1]) / CLIP_STD[1],
        (128 / 255 - CLIP_MEAN[2]) / CLIP_STD[2],
    ]
    torch.testing.assert_close(tensor[:, 0, 0], torch.tensor(expected), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("height", "width", "budget"),
    [(448, 448, None), (480, 640, None), (1080, 1920, 1024), (100, 3000, 256), (5, 5, None), (720, 1280, 1)],
)
def test_native_size_is_patch_aligned_and_within_budget(height, width, budget):
    h, w = native_size(height, width, 14, budget)
    assert h % 14 == 0 and w % 14 == 0 and h >= 14 and w >= 14
    if budget is not None:
        assert (h // 14) * (w // 14) <= budget
        assert (h // 14) * (w // 14) >= 0.7 * budget or budget < 16
    else:
        assert (abs(h - height) <= 7 and abs(w - width) <= 7) or (height < 14 and h == 14)
    if budget is None or budget >= 64:
        assert abs((w / h) - (width / height)) / (width / height) < 0.25


def test_native_mode_keeps_aspect_and_returns_per_image_tensors():
    pixels = ImagePreprocessor()([noise_image(640, 480), noise_image(280, 280)], mode="native", max_tokens=1024)
    shapes = [tuple(p.shape) for p in pixels["pixel_values"]]
    assert shapes[1] == (3, 280, 280)
    assert shapes[0][1] % 14 == 0 and shapes[0][2] % 14 == 0 and shapes[0][2] > shapes[0][1]


def test_letterbox_centres_content_on_black():
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    canvas, info = letterbox(image, 504, 504)
    assert canvas.size == (504, 504)
    assert (info.content_width, info.content_height) == (504, 252) and (info.offset_x, info.offset_y) == (0, 126)
    assert canvas.getpixel((250, 10)) == (0, 0, 0) and canvas.getpixel((250, 250)) == (255, 0, 0)
    square = ImagePreprocessor().square(image, size=224)
    assert square.shape == (3, 224, 224)


def test_unreadable_images_give_one_line_errors(tmp_path):
    missing = tmp_path / "missing.jpg"
    with pytest.raises(ImageLoadError, match=r"missing\.jpg: no such image file"):
        load_image(missing)
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not an image")
    with pytest.raises(ImageLoadError, match=r"notes\.png: not a readable image") as info:
        load_image(bogus)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="unknown mode"):
        ImagePreprocessor()(noise_image(10, 10), mode="tiles")
