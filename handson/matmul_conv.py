"""Convolutions as one matrix product (im2col), the way `fit` trains `nnx.Conv` layers on the CPU.

XLA's CPU convolutions are slow to differentiate for our small models (the backward pass of a
convolution is two more convolutions, which XLA CPU runs on a slow path) and they lose their
fast path inside `lax.scan` (jax-ml/jax#12868). The same convolution written as "cut the input
into patches, multiply by the kernel matrix" differentiates into slices, pads and matrix
products, which XLA CPU runs fast, in a loop or not. Same arithmetic, different rounding: the
results agree with `lax.conv_general_dilated` to float32 precision (tests/test_training.py).

Measured with `benchmarks/train_speed.py` (exercise CNN S6, batch 32, 2-core CPU, one run):
`fit` trains 1,854 images/s with XLA's convolutions and 3,161 with these, where Keras 3 trains
2,103 and PyTorch 2,824; benchmarks/README.md has the table.
"""

import itertools

import jax.numpy as jnp
from flax import nnx
from jax import lax


def im2col_conv(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                dimension_numbers=None, feature_group_count=1, precision=None, **kwargs):
    """A drop-in for `lax.conv_general_dilated` as `nnx.Conv` calls it (channels last).

    Handles any strides and padding; what it does not (dilations, feature groups, other
    layouts, sharding) goes to `lax.conv_general_dilated` unchanged.
    """
    if not handles(lhs.shape, rhs.shape, lhs_dilation, rhs_dilation, dimension_numbers,
                   feature_group_count) or kwargs.get("out_sharding") is not None:
        return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                        dimension_numbers, feature_group_count, precision=precision, **kwargs)
    nd = lhs.ndim - 2  # spatial dimensions
    window, (c_in, c_out) = rhs.shape[:nd], rhs.shape[nd:]
    if isinstance(padding, str):
        padding = lax.padtype_to_pads(lhs.shape[1:-1], window, window_strides, padding)
    x = jnp.pad(lhs, [(0, 0), *padding, (0, 0)])
    out = [(x.shape[1 + i] - window[i]) // window_strides[i] + 1 for i in range(nd)]
    # one strided slice per kernel offset, stacked on the channel axis in the kernel's HWIO order:
    # (batch, *out, prod(window) * c_in), so a reshape of the kernel is the matrix to multiply by
    patches = jnp.concatenate([
        lax.slice(x, (0, *offset, 0),
                  (x.shape[0], *(o + (n - 1) * s + 1 for o, n, s in zip(offset, out, window_strides)), c_in),
                  (1, *window_strides, 1))
        for offset in itertools.product(*map(range, window))], axis=-1)
    return jnp.dot(patches, rhs.reshape(-1, c_out), precision=precision,
                   preferred_element_type=kwargs.get("preferred_element_type"))


def handles(lhs_shape, rhs_shape, lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
            feature_group_count=1) -> bool:
    """Whether `im2col_conv` computes this convolution itself (else it calls lax)."""
    nd = len(lhs_shape) - 2
    ones = (1,) * nd
    channels_last = lax.ConvDimensionNumbers((0, nd + 1, *range(1, nd + 1)), (nd + 1, nd, *range(nd)),
                                             (0, nd + 1, *range(1, nd + 1)))
    return (feature_group_count == 1 and tuple(lhs_dilation or ones) == ones
            and tuple(rhs_dilation or ones) == ones
            and lax.conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) == channels_last)


def use_im2col(model: nnx.Module) -> None:
    """Switch every `nnx.Conv` of `model` that calls lax's convolution to `im2col_conv`, in place.

    `fit` calls it on the copy of the model that it builds while tracing, so the model passed
    to `fit` keeps `lax.conv_general_dilated`; the parameters are the same either way.
    """
    for _, module in nnx.iter_modules(model):
        if isinstance(module, nnx.Conv) and module.conv_general_dilated is lax.conv_general_dilated:
            module.conv_general_dilated = im2col_conv


def lax_convs_left(model: nnx.Module, im2col: bool = True) -> bool:
    """Whether `model`, after `use_im2col` (or without it), still runs a convolution of XLA's
    (slow in lax.scan on the CPU)."""
    for _, module in nnx.iter_modules(model):
        if isinstance(module, nnx.ConvTranspose):
            return True
        if isinstance(module, nnx.Conv):
            if not im2col:
                return True
            if module.conv_general_dilated not in (lax.conv_general_dilated, im2col_conv):
                return True  # a convolution function of the user's: we cannot tell
            ones = (1,) * len(module.kernel_size)
            for dilation in (module.input_dilation, module.kernel_dilation):
                if dilation is not None and (dilation != 1 if isinstance(dilation, int) else tuple(dilation) != ones):
                    return True
            if module.feature_group_count != 1:
                return True
    return False
