"""Deterministic transforms: each against an independent computation of what torchvision does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from nnstudy.config.data import (
    Flatten,
    GaussianBlur,
    Normalize,
    Pad,
    Resize,
    ToRGB,
    parse_data_spec,
)
from nnstudy.data import load_data
from nnstudy.data.transforms import (
    channel_stats,
    gaussian_blur,
    gaussian_kernel1d,
    gray_to_rgb,
    normalize,
    pad,
    pipeline,
    prepare,
    resize,
    rgb_to_grayscale,
    step_function,
    step_shape,
    to_float,
)
from nnstudy.errors import ConfigError, DataError


def blur_reference(image: np.ndarray, kernel: int, sigma: float) -> np.ndarray:
    """torchvision's GaussianBlur in float64 NumPy: the k x k kernel exp(-(i^2 + j^2) / 2s^2)
    normalized to sum 1, reflect padding of k // 2, and a direct sum over each window."""
    offsets = np.arange(kernel) - (kernel - 1) / 2
    weights = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2))
    weights /= weights.sum()
    half = kernel // 2
    out = np.empty_like(image, dtype=np.float64)
    for c in range(image.shape[0]):
        padded = np.pad(image[c].astype(np.float64), half, mode="reflect")
        for i in range(image.shape[1]):
            for j in range(image.shape[2]):
                out[c, i, j] = (padded[i : i + kernel, j : j + kernel] * weights).sum()
    return out


@pytest.mark.parametrize(("kernel", "sigma"), [(3, 0.7), (5, 1.0), (7, 2.5), (1, 1.0), (9, 0.4)])
def test_gaussian_blur_matches_a_direct_2d_convolution_with_reflect_padding(kernel, sigma):
    rng = np.random.default_rng(kernel)
    image = rng.random((3, 13, 10)).astype(np.float32)
    ours = gaussian_blur(torch.from_numpy(image)[None], kernel, sigma)[0].numpy()
    expected = blur_reference(image, kernel, sigma)
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)
    # scipy's correlate with mode="mirror" is the same reflect padding (edge not repeated).
    offsets = np.arange(kernel) - (kernel - 1) / 2
    g = np.exp(-(offsets**2) / (2 * sigma**2))
    g /= g.sum()
    for c in range(3):
        scipy_out = ndimage.correlate(image[c].astype(np.float64), np.outer(g, g), mode="mirror")
        np.testing.assert_allclose(ours[c], scipy_out, atol=1e-5, rtol=0)


def test_gaussian_blur_changes_the_image_and_keeps_its_mean_for_a_constant():
    flat = torch.full((1, 1, 8, 8), 0.25)
    assert torch.allclose(gaussian_blur(flat, 5, 1.0), flat, atol=1e-7)
    spike = torch.zeros(1, 1, 9, 9)
    spike[0, 0, 4, 4] = 1.0
    blurred = gaussian_blur(spike, 3, 0.7)
    assert blurred[0, 0, 4, 4] < 1.0 and blurred[0, 0, 3, 4] > 0.0
    assert blurred.sum().item() == pytest.approx(1.0, abs=1e-6)


def test_gaussian_kernel1d_is_the_normalized_sampled_gaussian():
    k = gaussian_kernel1d(5, 1.5, dtype=torch.float64).numpy()
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    expected = np.exp(-(x**2) / (2 * 1.5**2))
    np.testing.assert_allclose(k, expected / expected.sum(), rtol=1e-12)


def test_grayscale_uses_torchvisions_weights_and_keeps_one_channel_images():
    rgb = torch.tensor([0.2, 0.6, 1.0]).view(1, 3, 1, 1).expand(2, 3, 4, 4)
    gray = rgb_to_grayscale(rgb)
    assert gray.shape == (2, 1, 4, 4)
    assert gray[0, 0, 0, 0].item() == pytest.approx(0.2989 * 0.2 + 0.587 * 0.6 + 0.114 * 1.0)
    one = torch.rand(2, 1, 4, 4)
    assert rgb_to_grayscale(one) is one


def test_resize_is_bilinear_antialiased_and_identity_at_the_same_size():
    x = torch.rand(2, 1, 8, 8)
    assert resize(x, (8, 8)) is x
    spike = torch.zeros(1, 1, 1, 8)
    spike[..., 3] = 1.0
    down = resize(spike, (1, 2))
    # Plain bilinear samples between pixels 1|2 and 5|6 and misses the spike at 3;
    # antialiasing averages over a wider triangle, so both outputs see it.
    assert down[0, 0, 0, 0] > 0.1 and down[0, 0, 0, 1] > 0.1
    assert torch.allclose(resize(torch.full((1, 2, 9, 7), 0.3), (4, 5)), torch.tensor(0.3))
    up = resize(torch.tensor([[[[0.0, 1.0]]]]), (1, 4))
    assert torch.allclose(up, torch.tensor([[[[0.0, 0.25, 0.75, 1.0]]]]))  # half-pixel centres


def test_normalize_pad_and_to_float():
    x = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 1, 1, 3)
    assert torch.equal(to_float(x), x.float() / 255)
    out = normalize(to_float(x), [0.5], [0.5])
    assert torch.allclose(out, torch.tensor([-1.0, 51 / 255 * 2 - 1, 1.0]).view(1, 1, 1, 3))
    padded = pad(torch.ones(1, 1, 2, 2), 2)
    assert padded.shape == (1, 1, 6, 6) and padded.sum() == 4 and padded[0, 0, 0, 0] == 0


def test_normalize_auto_measures_the_training_split_only():
    train = torch.full((10, 3, 4, 4), 0.2)
    train[:, 1] = torch.linspace(0, 1, 10).view(10, 1, 1)
    other = torch.full((5, 3, 4, 4), 0.9)  # must not move the statistics
    steps = parse_data_spec({"transforms": ["normalize"]}).transforms
    with pytest.raises(DataError, match=r"data\.transforms\[0\]: normalize auto: channel 0"):
        prepare({"train": train, "test": other}, steps)
    train[:, 0, 0, 0] = torch.linspace(0, 1, 10)
    train[:, 2, 0, 0] = 1.0
    parts, resolved, shape = prepare({"train": train, "test": other}, steps)
    (step,) = resolved
    assert isinstance(step, Normalize) and not step.auto
    flat = train.transpose(0, 1).reshape(3, -1).double()
    assert step.mean == pytest.approx(flat.mean(1).tolist())
    assert step.std == pytest.approx(flat.std(1, unbiased=False).tolist())
    assert torch.allclose(
        parts["train"].transpose(0, 1).reshape(3, -1).mean(1), torch.zeros(3), atol=1e-6
    )
    assert shape == (3, 4, 4)


def test_prepare_applies_the_list_in_order_and_tracks_the_shape():
    x = (torch.rand(6, 3, 10, 10) * 255).to(torch.uint8)
    steps = parse_data_spec(
        {
            "transforms": [
                "grayscale",
                {"resize": [6, 8]},
                {"gaussian_blur": 3},
                {"pad": 1},
                "flatten",
            ]
        }
    ).transforms
    parts, resolved, shape = prepare({"train": x}, steps)
    expected = pad(gaussian_blur(resize(rgb_to_grayscale(to_float(x)), (6, 8)), 3, 0.8), 1)
    assert shape == (1, 8, 10)
    assert torch.allclose(parts["train"], expected, atol=1e-6)
    assert [s.kind for s in resolved][-1] == "flatten"


def test_prepare_without_transforms_keeps_the_uint8_tensors():
    x = torch.zeros(3, 1, 4, 4, dtype=torch.uint8)
    parts, _, shape = prepare({"train": x}, [])
    assert parts["train"] is x and shape == (1, 4, 4)


def test_image_transforms_on_vectors_and_oversized_blur_are_config_errors():
    with pytest.raises(ConfigError, match=r"^data\.transforms\[0\]: resize needs images"):
        step_shape(Resize(size=(4, 4)), (64,), "data.transforms[0]")
    with pytest.raises(ConfigError, match=r"gaussian_blur\.kernel: 9 is too large for 4x4"):
        step_shape(GaussianBlur(kernel=9), (1, 4, 4), "data.transforms[1]")
    with pytest.raises(ConfigError, match=r"2 means for 3 channels"):
        step_shape(Normalize(mean=(0.5, 0.5), std=(1.0, 1.0)), (3, 4, 4), "data.transforms[0]")
    assert step_shape(Pad(padding=2), (1, 28, 28), "t") == (1, 32, 32)


def test_channel_stats_of_uint8_from_histograms_equal_the_float64_computation():
    x = (torch.rand(300, 3, 7, 5) * 255).to(torch.uint8)
    x[:, 2] //= 4
    mean, std = channel_stats(x)
    ref = x.double().numpy() / 255
    np.testing.assert_allclose(mean, ref.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, ref.std(axis=(0, 2, 3)), rtol=1e-12)
    floats = channel_stats(to_float(x))
    np.testing.assert_allclose(floats[0], mean, rtol=1e-6)
    np.testing.assert_allclose(floats[1], std, rtol=1e-6)
    vectors = torch.rand(50, 4)
    v_mean, v_std = channel_stats(vectors)
    assert v_mean == pytest.approx([vectors.double().mean().item()])
    assert v_std == pytest.approx([vectors.double().std(unbiased=False).item()])


def test_to_rgb_repeats_a_grey_channel_and_keeps_three_channels():
    grey = torch.rand(2, 1, 3, 4)
    rgb = gray_to_rgb(grey)
    assert rgb.shape == (2, 3, 3, 4)
    for c in range(3):
        assert torch.equal(rgb[:, c], grey[:, 0])
    colour = torch.rand(2, 3, 3, 4)
    assert gray_to_rgb(colour) is colour
    assert step_shape(ToRGB(), (1, 28, 28), "t") == (3, 28, 28)
    assert step_shape(ToRGB(), (3, 8, 8), "t") == (3, 8, 8)


def test_grayscale_then_to_rgb_is_torchvisions_grayscale_with_three_output_channels():
    pixel = torch.tensor([0.2, 0.6, 1.0]).view(1, 3, 1, 1)
    out = gray_to_rgb(rgb_to_grayscale(pixel))
    luma = 0.2989 * 0.2 + 0.587 * 0.6 + 0.114 * 1.0
    assert out.flatten().tolist() == pytest.approx([luma] * 3)


def test_to_rgb_on_two_channels_is_a_config_error_naming_the_step(tmp_path):
    with pytest.raises(ConfigError) as err:
        step_shape(ToRGB(), (2, 5, 5), "data.transforms[1]")
    assert str(err.value) == (
        "data.transforms[1]: to_rgb needs 1 (grey) or 3 channels, the images have 2"
    )
    path = tmp_path / "two.npz"
    np.savez(path, x=np.zeros((4, 2, 5, 5), np.uint8), y=np.array([0, 1, 0, 1]))
    with pytest.raises(ConfigError, match=r"^data\.transforms\[0\]: to_rgb needs 1 \(grey\)"):
        load_data({"name": "npz", "path": str(path), "transforms": ["to_rgb"]})


def test_normalize_presets_are_imagenets_and_mnists_numbers_and_are_written_back_by_name():
    spec = parse_data_spec(
        {"transforms": [{"normalize": "imagenet"}, {"normalize": {"preset": "mnist"}}]}
    )
    imagenet, mnist = spec.transforms
    assert imagenet.mean == (0.485, 0.456, 0.406) and imagenet.std == (0.229, 0.224, 0.225)
    assert mnist.mean == (0.1307,) and mnist.std == (0.3081,)
    assert spec.to_config()["transforms"] == [{"normalize": "imagenet"}, {"normalize": "mnist"}]
    assert parse_data_spec(spec.to_config()) == spec
    x = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1)
    out = step_function(imagenet)(x).flatten().tolist()
    assert out == pytest.approx([(0.0 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (1 - 0.406) / 0.225])


@pytest.mark.parametrize(
    ("normalize", "message"),
    [
        ("imagenett", "data.transforms[0]: unknown normalize preset 'imagenett'; one of auto, "),
        ({"preset": "cifar"}, "data.transforms[0].normalize: unknown preset 'cifar'"),
        (
            {"preset": "mnist", "mean": [0.5], "std": [0.5]},
            "data.transforms[0].normalize: preset mnist is mean [0.1307], std [0.3081]",
        ),
    ],
)
def test_bad_normalize_presets_are_config_errors(normalize, message):
    with pytest.raises(ConfigError) as err:
        parse_data_spec({"transforms": [{"normalize": normalize}]})
    assert str(err.value).startswith(message)


def test_imagenet_normalize_on_grey_images_says_to_put_to_rgb_first():
    with pytest.raises(ConfigError) as err:
        load_data({"name": "digits", "transforms": [{"normalize": "imagenet"}]})
    assert str(err.value) == (
        "data.transforms[0].normalize: 3 means for 1 channels; give 1; put to_rgb before it"
    )


def test_pipeline_is_to_float_then_each_step_as_f_interpolate_and_the_formulas():
    x = (torch.rand(5, 1, 12, 10) * 255).to(torch.uint8)
    steps = parse_data_spec(
        {"transforms": ["to_rgb", {"resize": [20, 16]}, {"normalize": "imagenet"}, "flatten"]}
    ).transforms
    pipe = pipeline(steps, (1, 12, 10))
    assert pipe.out_shape == (3 * 20 * 16,) and pipe.in_shape == (1, 12, 10)
    grey = x.double() / 255
    big = F.interpolate(
        grey.expand(5, 3, 12, 10), size=(20, 16), mode="bilinear", align_corners=False
    )  # upsampling: antialiasing does not apply
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)
    expected = ((big - mean) / std).reshape(5, -1)
    out = pipe(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), expected, rtol=0, atol=1e-5)
    assert pipe.to_config() == [
        "to_rgb",
        {"resize": [20, 16]},
        {"normalize": "imagenet"},
        "flatten",
    ]


def test_pipeline_equals_the_transforms_prepare_runs_at_load(mnist_dir):
    transforms = ["to_rgb", {"resize": 16}, {"normalize": "imagenet"}]
    bundle = load_data({"name": "mnist", "root": str(mnist_dir()), "transforms": transforms})
    pipe = pipeline(bundle.spec.transforms, tuple(bundle.test.x.shape[1:]))
    assert torch.equal(pipe(bundle.test.x), bundle.test.prepared)
    assert bundle.input_shape == pipe.out_shape == (3, 16, 16)


def test_pipeline_refuses_auto_normalize_a_middle_flatten_and_samples_of_another_shape():
    auto = parse_data_spec({"transforms": ["normalize"]}).transforms
    with pytest.raises(ConfigError, match=r"^preprocess\[0\]\.normalize: auto is measured at"):
        pipeline(auto, (1, 8, 8))
    with pytest.raises(ConfigError, match=r"^preprocess: flatten must be the last step"):
        pipeline([Flatten(), Pad(padding=1)], (1, 8, 8))
    pipe = pipeline([Pad(padding=1)], (1, 8, 8))
    with pytest.raises(ValueError, match=r"expected samples \(1, 8, 8\), got \(1, 9, 9\)"):
        pipe(torch.zeros(2, 1, 9, 9))
