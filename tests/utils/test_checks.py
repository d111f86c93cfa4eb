"""deepdojo.utils.checks: one integer check for the library's arguments."""

from __future__ import annotations

import numpy as np
import pytest

from deepdojo.utils.checks import check_int


def test_ints_and_numpy_ints_pass_as_python_ints():
    assert check_int(3, "n") == 3
    got = check_int(np.int64(5), "n", minimum=5)
    assert got == 5 and type(got) is int


@pytest.mark.parametrize(
    ("value", "minimum", "error", "message"),
    [
        (True, 1, TypeError, "n must be an int, got bool"),
        (2.0, 1, TypeError, "n must be an int, got float"),
        ("3", 1, TypeError, "n must be an int, got str"),
        (0, 1, ValueError, "n must be >= 1, got 0"),
        (-4, -3, ValueError, "n must be >= -3, got -4"),
    ],
)
def test_bad_values_say_what_to_change(value, minimum, error, message):
    with pytest.raises(error) as info:
        check_int(value, "n", minimum)
    assert str(info.value) == message
