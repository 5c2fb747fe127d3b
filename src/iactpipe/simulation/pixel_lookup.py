"""Position -> pixel look-up table of a camera (hexagonal pixels as Voronoi cells).

A square grid of cells over the camera; each cell holds the pixel whose centre is
nearest to the cell's centre, -1 where no pixel centre is within the pixel's outer
radius. Built by visiting, for each pixel, the cells within that radius of its centre
(`nearest_pixel_table`): about 1 ms for the SST-1M camera, where a k-d tree query of
every cell took 70-90 ms of each simulation's start-up (issue 19), with the same table.
"""

import astropy.units as u
import numpy as np
from ctapipe.instrument import CameraGeometry
from numba import njit

__all__ = ["PixelLookup", "nearest_pixel_table"]


@njit(cache=True)
def nearest_pixel_table(x, y, x0, y0, cell, nx, ny, r_max):
    """Index of the pixel centre (``x``, ``y``) nearest to each cell centre ``(x0 + (i +
    0.5) cell, y0 + (j + 0.5) cell)`` of an ``nx`` x ``ny`` grid, -1 where that distance
    exceeds ``r_max`` (equal distances: the lower index).

    Only the cells within ``r_max`` of a pixel can hold it, so each pixel visits the
    cells of its window and keeps the smaller squared distance per cell: the nearest
    neighbour of a k-d tree query, from the same floating-point distances.
    """
    best = np.full((nx, ny), np.inf)
    table = np.full((nx, ny), -1, np.int32)
    # cell indices within r_max of a centre: one more for the truncation, one for safety
    reach = int(r_max / cell) + 2
    for p in range(x.shape[0]):
        ci = int((x[p] - x0) / cell)
        cj = int((y[p] - y0) / cell)
        for i in range(max(ci - reach, 0), min(ci + reach + 1, nx)):
            dx = x0 + (i + 0.5) * cell - x[p]
            for j in range(max(cj - reach, 0), min(cj + reach + 1, ny)):
                dy = y0 + (j + 0.5) * cell - y[p]
                d2 = dx * dx + dy * dy
                if d2 < best[i, j]:
                    best[i, j] = d2
                    table[i, j] = p
    for i in range(nx):
        for j in range(ny):
            # `not <=`: also the cells no pixel visited (inf)
            if not np.sqrt(best[i, j]) <= r_max:
                table[i, j] = -1
    return table


class PixelLookup:
    """Fast position -> pixel lookup on a square grid (hexagonal pixels = Voronoi cells)."""

    def __init__(self, geometry: CameraGeometry, cell_m: float = 0.002):
        x = geometry.pix_x.to_value(u.m)
        y = geometry.pix_y.to_value(u.m)
        r_out = np.sqrt(geometry.pix_area.to_value(u.m**2).max() / (1.5 * np.sqrt(3))) * 1.0
        self.x0 = x.min() - 2 * r_out
        self.y0 = y.min() - 2 * r_out
        self.cell_m = cell_m
        nx = int((x.max() + 2 * r_out - self.x0) / cell_m) + 1
        ny = int((y.max() + 2 * r_out - self.y0) / cell_m) + 1
        self.table = nearest_pixel_table(
            np.ascontiguousarray(x, np.float64),
            np.ascontiguousarray(y, np.float64),
            float(self.x0),
            float(self.y0),
            float(cell_m),
            nx,
            ny,
            float(r_out),
        )
        self.n_pixels = len(x)
