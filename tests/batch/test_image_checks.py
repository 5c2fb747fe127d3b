"""The chunk-wise image checks equal ImageQualityQuery's per-image calls, counts included."""

import numpy as np
import pytest
from ctapipe.image.image_processor import ImageQualityQuery

from iactpipe.batch.engine import QualityCounts, image_checks


@pytest.mark.parametrize(
    "criteria",
    [None, [("few_pixels", "image.size < 4"), ("bright", "(image > 5).any()")]],
    ids=["default", "custom"],
)
def test_image_checks_equal_per_image_queries(criteria):
    rng = np.random.default_rng(5)
    charge = rng.normal(3, 4, (300, 40)).astype(np.float32)
    masks = rng.random((300, 40)) < rng.choice([0.0, 0.02, 0.05, 0.3], (300, 1))
    masks[:3] = False
    masks[3, 7] = True  # a single pixel
    masks &= (charge > 0.5) | (np.arange(300) % 7 == 0)[:, None]  # some negative images
    charge[5, 2], masks[5, 2] = np.nan, True  # a NaN charge: not a positive sum
    charge[9, 4], masks[9] = np.nan, False  # outside the cleaned pixels: ignored
    kwargs = {} if criteria is None else {"quality_criteria": criteria}
    reference, batch = ImageQualityQuery(**kwargs), ImageQualityQuery(**kwargs)
    expected = [all(reference(image=c[m])) for c, m in zip(charge, masks, strict=True)]
    counts = QualityCounts(batch)
    np.testing.assert_array_equal(image_checks(batch, counts, charge, masks), expected)
    ours, theirs = counts.to_table(functions=True), reference.to_table(functions=True)
    assert ours.colnames == theirs.colnames
    for name in theirs.colnames:
        assert ours[name].dtype == theirs[name].dtype, name
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    assert 0 < np.count_nonzero(expected) < len(expected)
