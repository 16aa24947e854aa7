"""numpy ⇄ sensor_msgs/Image for every supported encoding, against the encoding rules."""

import numpy as np
import pytest
from sensor_msgs.msg import Image

from psi0_core.image_codec import image_to_numpy, numpy_to_image

pytestmark = pytest.mark.unit
RNG = np.random.default_rng(0)


@pytest.mark.parametrize("encoding, shape, dtype", [("rgb8", (4, 5, 3), np.uint8), ("bgr8", (4, 5, 3), np.uint8),
                                                    ("mono8", (4, 5), np.uint8), ("16UC1", (4, 5), np.uint16)])
def test_round_trip(encoding, shape, dtype):
    a = RNG.integers(0, np.iinfo(dtype).max, shape).astype(dtype)
    msg = numpy_to_image(a, encoding)
    assert msg.step == shape[1] * (3 if len(shape) == 3 else 1) * np.dtype(dtype).itemsize
    np.testing.assert_array_equal(image_to_numpy(msg), a)


def test_padded_rows_and_big_endian_16bit():
    a = np.array([[1, 258], [65535, 4]], dtype=np.uint16)
    rows = [np.r_[a[r].astype(">u2").view(np.uint8), [0xEE, 0xEE]] for r in range(2)]  # 2 padding bytes per row
    msg = Image(height=2, width=2, encoding="16UC1", is_bigendian=1, step=6)
    msg.data = np.concatenate(rows).astype(np.uint8).tobytes()
    np.testing.assert_array_equal(image_to_numpy(msg), a)


def test_bgr_and_mono_convert_to_rgb():
    bgr = RNG.integers(0, 255, (3, 4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(image_to_numpy(numpy_to_image(bgr, "bgr8"), "rgb8"), bgr[..., ::-1])
    mono = RNG.integers(0, 255, (3, 4), dtype=np.uint8)
    assert image_to_numpy(numpy_to_image(mono, "mono8"), "rgb8").shape == (3, 4, 3)


def test_bad_messages_are_rejected_with_a_reason():
    with pytest.raises(ValueError, match="unsupported encoding"):
        image_to_numpy(Image(height=1, width=1, encoding="yuv422", step=2))
    short = Image(height=2, width=2, encoding="rgb8", step=6)
    short.data = bytes(6)
    with pytest.raises(ValueError, match="too small"):
        image_to_numpy(short)
