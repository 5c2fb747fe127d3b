"""Numbers of the report are written for reading: rounded by their error, no float
noise, no Python list syntax."""

import pytest

from iactpipe.analysis import format_measurement, format_number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.9999999999999996, "3"),
        (0.123456, "0.123"),
        (1.2e-11, "1.2e-11"),
        (12, "12"),
        (None, "n/a"),
        (float("nan"), "n/a"),
        (True, "yes"),
        (0.1000000014901161, "0.1"),
    ],
)
def test_format_number(value, text):
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("value", "error", "unit", "text"),
    [
        (2.9220657, 0.17588, "", "2.92 ± 0.18"),
        (1.884272e-12, 2.58199e-13, "TeV-1", "(1.88 ± 0.26) × 10^-12 TeV-1"),
        (0.19703, 0.05738, "", "0.197 ± 0.057"),
        (153.2, 12.0, "s", "153 ± 12 s"),
        (1.0, 0.0, "", "1"),
    ],
)
def test_format_measurement(value, error, unit, text):
    assert format_measurement(value, error, unit) == text
