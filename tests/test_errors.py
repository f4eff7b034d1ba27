"""Bad input raises a clear error naming the op and the shapes/dtypes, before any state changes."""

import numpy as np
import pytest

import chainrule as cr


def test_matmul_shape_mismatch_names_op_and_shapes():
    a = cr.ones(3, 4, requires_grad=True)
    with pytest.raises(ValueError, match=r"matmul.*\(3, 4\).*\(5, 2\)"):
        a @ cr.ones(5, 2)
    with pytest.raises(ValueError, match="matmul"):
        cr.ones(2, 3, 4) @ cr.ones(3, 4, 2)  # batch shapes 2 vs 3 do not broadcast


def test_broadcast_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add.*\(2, 3\).*\(4,\)"):
        cr.ones(2, 3) + cr.ones(4)
    with pytest.raises(ValueError, match=r"broadcast_to.*\(3,\).*\(2, 4\)"):
        cr.broadcast_to(cr.ones(3), (2, 4))


def test_concatenate_and_reshape_mismatch():
    with pytest.raises(ValueError, match=r"concatenate.*\(2, 3\).*\(2, 4\)"):
        cr.concatenate([cr.ones(2, 3), cr.ones(2, 4)], dim=0)
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4, 2\)"):
        cr.ones(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match="stack"):
        cr.stack([cr.ones(2), cr.ones(3)])


def test_axis_errors():
    with pytest.raises(ValueError, match="sum: axis 2 is out of range"):
        cr.ones(2, 3).sum(dim=2)
    with pytest.raises(TypeError, match="sum: axis must be an int"):
        cr.ones(2, 3).sum(dim="a")


def test_dtype_errors_name_the_op():
    with pytest.raises(TypeError, match=r"mean.*int64"):
        cr.arange(3).mean()
    with pytest.raises(TypeError, match=r"where.*condition"):
        cr.where(cr.ones(2), cr.ones(2), cr.zeros(2))
    with pytest.raises(TypeError, match="unsupported dtype"):
        cr.tensor([1.0], dtype="complex64")


def test_index_errors():
    with pytest.raises(IndexError, match=r"getitem.*\(3,\)"):
        cr.ones(3)[np.array([5])]


def test_inplace_errors_leave_the_tensor_unchanged():
    x = cr.ones(3)
    v = x._version[0]
    with pytest.raises(ValueError, match="add_"):
        x += cr.ones(2, 3)  # would have to grow x
    with pytest.raises(TypeError, match="mul_"):
        i = cr.arange(3)
        i *= 1.5
    assert x.tolist() == [1.0, 1.0, 1.0] and x._version[0] == v
    with pytest.raises(ValueError, match="setitem"):
        x[0:2] = np.ones(3)
    assert x.tolist() == [1.0, 1.0, 1.0]


def test_setitem_with_repeated_indices_is_rejected_when_tracked():
    x = cr.zeros(3, requires_grad=True) * 1.0
    with pytest.raises(ValueError, match="more than once"):
        x[np.array([0, 0])] = cr.tensor([1.0, 2.0])
    assert x.tolist() == [0.0, 0.0, 0.0]


def test_pad_of_0d_tensor():
    with pytest.raises(ValueError, match="pad"):
        cr.pad(cr.tensor(1.0), 1)
