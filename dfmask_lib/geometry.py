"""Sun-sensor geometry of clouds and their shadows on an orthorectified image.

A cloud at height ``h`` above the ground is seen in an L1C image (orthorectified
to the terrain) displaced from the ground point beneath it by the view parallax,
``h * tan(view_zenith)`` away from the satellite; its shadow falls
``h * tan(sun_zenith)`` away from the sun. Fmask's shadow matching (Zhu & Woodcock
2012, Remote Sens. Environ. 118:83-94; Qiu, Zhu & He 2019, Remote Sens. Environ.
231:111205) inverts exactly this relation, and the synthetic generator uses it to
cast shadows, so both share this one module.

Conventions: azimuths in degrees clockwise from north, measured from the pixel
towards the sun (sun azimuth) or towards the satellite (view azimuth), as in
Sentinel-2 MTD_TL.xml; zenith angles in degrees. Offsets are in pixels of a
north-up grid: ``drow`` positive southwards, ``dcol`` positive eastwards.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError

__all__ = ["ground_offset", "shadow_offset"]


def ground_offset(height, zenith: float, azimuth: float, resolution: float):
    """Image offset (drow, dcol), in pixels, of a point at ``height`` metres projected to the
    ground along the ray towards (zenith, azimuth), i.e. moved *away* from that direction.

    Args:
        height: metres, scalar or array.
        zenith, azimuth: direction of the sun or the sensor seen from the ground (degrees).
        resolution: pixel size in metres.

    Returns:
        (drow, dcol) as floats or arrays shaped like ``height``.

    Raises:
        ConfigError: a zenith outside [0, 90), a non-finite azimuth or a resolution <= 0.
    """
    if not (np.isfinite(resolution) and resolution > 0):
        raise ConfigError(f"resolution must be a positive number of metres, got {resolution}")
    zen = np.asarray(zenith, dtype=np.float64)
    if not np.all((zen >= 0) & (zen < 90)):
        raise ConfigError(f"zenith angle {zenith} deg is not in [0, 90): the source must be "
                          "above the horizon")
    if not np.all(np.isfinite(azimuth)):
        raise ConfigError(f"azimuth {azimuth} deg is not a number; check the angles")
    h = np.asarray(height, dtype=np.float64)
    dist = h * np.tan(np.deg2rad(zenith)) / resolution
    az = np.deg2rad(azimuth)
    # Away from the source: east component -sin(az), north component -cos(az);
    # rows grow southwards, so drow = +cos(az) * dist.
    return dist * np.cos(az), -dist * np.sin(az)


def shadow_offset(height, sun_zenith: float, sun_azimuth: float,
                  view_zenith: float, view_azimuth: float, resolution: float):
    """Offset (drow, dcol), in pixels, from a cloud's apparent image position to its shadow.

    The cloud appears at ``ground + ground_offset(h, view)``; its shadow lies at
    ``ground + ground_offset(h, sun)``; the difference is returned. With a nadir view
    (``view_zenith = 0``) this is the plain sun projection.
    """
    sr, sc = ground_offset(height, sun_zenith, sun_azimuth, resolution)
    vr, vc = ground_offset(height, view_zenith, view_azimuth, resolution)
    return sr - vr, sc - vc
