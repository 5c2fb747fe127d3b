"""
`parameter_table_layout` against the route it replaces: ctapipe's HDF5TableWriter
writing the default parameter container to a table (row, dtype, attributes).
"""

import numpy as np
import pytest
from ctapipe.containers import TelEventIndexContainer
from ctapipe.image.image_processor import (
    DEFAULT_IMAGE_PARAMETERS,
    DEFAULT_IMAGE_PARAMETERS_CAMFRAME,
)
from ctapipe.io import HDF5TableWriter

from iactpipe.batch.writer import parameter_table_layout


def _written_layout(default, path):
    """The default row and user attributes of a table HDF5TableWriter wrote."""
    index = TelEventIndexContainer(obs_id=0, event_id=0, tel_id=np.int16(0))
    with HDF5TableWriter(path, mode="w", add_prefix=True) as writer:
        writer.write("parameters", [index, *default.values()])
        table = writer.h5file.get_node("/parameters")
        table.flush()
        attrs = {k: table.attrs[k] for k in table.attrs._f_list("user")}
        return table.read(), attrs


@pytest.mark.parametrize("default", [DEFAULT_IMAGE_PARAMETERS, DEFAULT_IMAGE_PARAMETERS_CAMFRAME])
def test_layout_equals_written_table(default, tmp_path):
    row, attrs = parameter_table_layout(default)
    written_row, written_attrs = _written_layout(default, tmp_path / "layout.h5")
    assert row.dtype == written_row.dtype
    assert row.tobytes() == written_row.tobytes()  # NaN defaults included
    assert list(attrs) and set(attrs) == set(written_attrs)
    for key, value in written_attrs.items():
        assert type(np.asarray(attrs[key]).item()) is type(np.asarray(value).item()), key
        assert np.asarray(attrs[key]) == np.asarray(value), key
