"""The non-terrain factors, data-driven breaks and the factor report strip by strip: equal
to the whole-array computation (SciPy's distance transform, ``data_breaks``, the report
of the whole stack), on strips of a few rows."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from scipy.ndimage import distance_transform_edt
from test_windowed import _assert_same_files

from conftest import make_region, write_raster
from lsgh_ee.config import load_config
from lsgh_ee.errors import LsghError
from lsgh_ee.factors.classify import data_breaks
from lsgh_ee.factors.local import compute_local_factors, source_layer
from lsgh_ee.factors.report import factor_report, factor_report_from_file
from lsgh_ee.factors.resolve import resolve_factors
from lsgh_ee.factors.source_strips import source_strips
from lsgh_ee.factors.strip_breaks import strip_data_breaks
from lsgh_ee.factors.strip_distance import distance_strips, lower_edges
from lsgh_ee.factors.windows import export_local_factors
from lsgh_ee.region import Region

# --- the distance transform ----------------------------------------------------------------


def _by_strips(features: np.ndarray, sampling, strip_rows: int, **part) -> np.ndarray:
    def read(row0: int, n: int) -> np.ndarray:
        return features[row0 : row0 + n]

    pieces = list(distance_strips(read, features.shape, sampling, strip_rows, **part))
    starts = [row for row, _ in pieces]
    assert starts == sorted(starts) and starts[0] == 0
    return np.concatenate([values for _, values in pieces])


def _cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(11)
    one_strip = np.zeros((23, 17), bool)
    one_strip[9, 4] = one_strip[10, 12] = True  # features in one strip of 4 rows only
    edges = np.zeros((19, 21), bool)
    edges[0, :] = edges[:, -1] = True  # only along two edges
    corner = np.zeros((15, 30), bool)
    corner[-1, 0] = True
    ties = np.zeros((21, 21), bool)
    ties[0, 0] = ties[0, 20] = ties[20, 0] = ties[20, 20] = ties[10, 10] = True
    return [
        ("sparse", rng.random((37, 29)) < 0.01),
        ("dense", rng.random((31, 26)) < 0.3),
        ("one strip", one_strip),
        ("edges", edges),
        ("one corner", corner),
        ("equidistant", ties),
        ("one row", rng.random((1, 40)) < 0.1),
        ("one column", rng.random((40, 1)) < 0.1),
    ]


@pytest.mark.parametrize("sampling", [(1.0, 1.0), (30.0, 30.0), (12.5, 3.1), (0.3, 0.7)])
@pytest.mark.parametrize("rows", [1, 4, 0])
def test_the_strip_transform_equals_scipys_bit_for_bit(sampling, rows: int) -> None:
    for name, features in _cases():
        if not features.any():
            features[0, 0] = True
        expected = distance_transform_edt(~features, sampling=sampling)
        got = _by_strips(features, sampling, rows)
        assert got.dtype == np.float64 and got.shape == expected.shape, name
        assert got.tobytes() == expected.tobytes(), name


def test_a_part_of_the_grid_is_the_same_part_of_the_transform() -> None:
    rng = np.random.default_rng(2)
    features = rng.random((40, 35)) < 0.02
    expected = distance_transform_edt(~features, sampling=(5.0, 5.0))
    got = _by_strips(features, (5.0, 5.0), 3, rows=(7, 31), cols=(4, 30))
    assert got.tobytes() == expected[7:31, 4:30].tobytes()
    # a hand check: the distance to the nearest feature by brute force
    cells = np.argwhere(features)
    r, c = 20, 10
    brute = np.sqrt((((cells - [r, c]) * 5.0) ** 2).sum(axis=1)).min()
    assert got[r - 7, c - 4] == pytest.approx(brute, rel=1e-15)


def test_the_bottom_up_pass_finds_features_or_none() -> None:
    features = np.zeros((10, 4), bool)
    below, found = lower_edges(lambda r, n: features[r : r + n], features.shape, 3)
    assert not found and (below == np.iinfo(np.int32).max).all()
    features[8, 1] = True
    below, found = lower_edges(lambda r, n: features[r : r + n], features.shape, 3)
    assert found
    # strips [0,3) [3,6) [6,9) [9,10): the nearest feature at or below each strip's end
    assert below[:, 1].tolist() == [8, 8, np.iinfo(np.int32).max, np.iinfo(np.int32).max]


# --- sources on the region's grid ----------------------------------------------------------


@pytest.fixture(scope="module")
def region_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic region with every source kind: a categorical raster without a remap
    table (classes from its values), a continuous raster, a road outside the grid's reach."""
    path = make_region(tmp_path_factory.mktemp("sources") / "region")
    folder = path.parent
    rng = np.random.default_rng(4)
    with rasterio.open(folder / "landcover.tif") as src:
        shape = src.shape
    write_raster(folder / "soil.tif", rng.integers(1, 5, shape).astype("uint8"), nodata=0)
    write_raster(folder / "rain.tif", rng.normal(1200, 80, shape).astype("float32"))
    config = yaml.safe_load(path.read_text())
    config["factors"].update(
        soil={"path": "soil.tif", "kind": "categorical"},
        rain={"path": "rain.tif", "kind": "continuous", "classify": "quantile", "n_classes": 5},
        ndvi={"red": "red.tif", "nir": "nir.tif", "classify": "natural", "n_classes": 4},
        distance_to_roads={"path": "roads.gpkg", "classify": "quantile", "n_classes": 6},
    )
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _region(path: Path):
    config = load_config(path)
    return Region.from_config(config), resolve_factors(config, "local")


@pytest.mark.parametrize("rows", [1, 5])
def test_each_source_by_strips_equals_its_whole_values(region_path: Path, rows: int) -> None:
    region, factors = _region(region_path)
    seen = set()
    for factor in factors:
        if factor.recipe == "terrain":
            continue
        whole = source_layer(region, factor)
        strips = source_strips(factor, region.grid, rows)
        got = np.full(region.grid.shape, -1.0, "float32")
        for row0, values in strips.strips:
            got[row0 : row0 + values.shape[0]] = values
        assert got.tobytes() == whole.values.tobytes(), factor.name
        if factor.kind == "categorical":
            assert strips.classes == whole.classes, factor.name
        assert strips.method == whole.method, factor.name
        seen.add(factor.recipe)
    assert seen == {"ndvi", "raster", "distance", "polygons"}


@pytest.mark.parametrize("rows", [2, 9])
def test_export_with_every_source_and_data_breaks_by_strips(
    region_path: Path, tmp_path: Path, rows: int
) -> None:
    region, factors = _region(region_path)
    compute_local_factors(region, factors).write(tmp_path / "whole")
    stack = export_local_factors(region, factors, tmp_path / "strips", strip_rows=rows)
    _assert_same_files(tmp_path / "whole", tmp_path / "strips")
    layers = {layer.name: layer for layer in stack.layers}
    assert layers["soil"].classes == ("1", "2", "3", "4")
    assert len(layers["rain"].breaks) == 4 and layers["rain"].method["classify"] == "quantile"
    assert layers["distance_to_roads"].method["classify"] == "quantile"
    # quantile classes hold about equal shares of the AOI's pixels
    with rasterio.open(tmp_path / "strips" / "class_codes.tif") as src:
        rain = src.read(list(stack.names).index("rain") + 1)
    shares = np.bincount(rain[rain > 0])[1:] / (rain > 0).sum()
    assert np.allclose(shares, 0.2, atol=0.01)


def test_no_feature_within_reach_gives_the_lower_bound_by_strips(
    region_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import geopandas as gpd
    from shapely.geometry import LineString

    folder = region_path.parent
    far = gpd.read_file(folder / "roads.gpkg")
    x0, y0 = far.geometry.iloc[0].coords[0]
    far.geometry = [LineString([(x0 + 1e6, y0), (x0 + 1e6 + 10, y0)])]
    far.to_file(tmp_path / "far.gpkg")
    region, factors = _region(region_path)
    factor = next(f for f in factors if f.name == "distance_to_rivers")
    spec = factor.spec.model_copy(update={"path": tmp_path / "far.gpkg"})
    factor = dataclasses.replace(factor, spec=spec)
    whole = source_layer(region, factor).values
    got = np.concatenate([v for _, v in source_strips(factor, region.grid, 4).strips])
    assert got.tobytes() == whole.tobytes()
    assert np.unique(got).size == 1 and "no feature of" in caplog.text


def test_a_raster_short_of_the_aoi_is_refused_by_strips(region_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "short"
    shutil.copytree(region_path.parent, folder)
    with rasterio.open(folder / "rain.tif") as src:
        rain = src.read(1)
    write_raster(folder / "rain.tif", rain[: rain.shape[0] // 2])
    region, factors = _region(folder / region_path.name)
    with pytest.raises(LsghError, match=r"rain.tif covers only .* supply a raster"):
        export_local_factors(region, factors, tmp_path / "run", strip_rows=3)
    assert not (tmp_path / "run" / "factors.tif").exists()


# --- data-driven breaks --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["quantile", "natural"])
def test_strip_breaks_equal_the_whole_arrays(method: str) -> None:
    rng = np.random.default_rng(8)
    for trial in range(60):
        rows, cols = rng.integers(1, 50, 2)
        values = [
            rng.normal(100, 50, (rows, cols)),
            rng.exponential(300, (rows, cols)),
            rng.integers(0, 5, (rows, cols)),  # many equal values
            rng.normal(0, 1e-3, (rows, cols)),  # negative and positive
        ][trial % 4].astype("float32")
        values[rng.random((rows, cols)) < 0.3] = np.nan
        n_classes, sample, step = int(rng.integers(2, 10)), [40, 5000][trial % 2], trial % 5 + 1

        def read(v=values, step=step):
            return (v[r : r + step] for r in range(0, v.shape[0], step))

        try:
            expected = data_breaks(values, method, n_classes, seed=trial, sample=sample)
        except ValueError as exc:
            with pytest.raises(ValueError, match=str(exc)):
                strip_data_breaks(read, method, n_classes, seed=trial, sample=sample)
            continue
        assert strip_data_breaks(read, method, n_classes, seed=trial, sample=sample) == expected


def test_strip_quantiles_are_numpys_to_the_bit() -> None:
    from lsgh_ee.factors import strip_breaks

    rng = np.random.default_rng(1)
    for n in (1, 2, 3, 10, 997, 4096):
        values = rng.normal(0, 1, n).astype("float32")
        high = np.bincount(strip_breaks._keys(values) >> 16, minlength=1 << 16)
        levels = np.arange(1, 9) / 9
        got = strip_breaks._exact_quantiles(lambda v=values: iter([v[:3], v[3:]]), high, n, levels)
        assert got.tobytes() == np.quantile(values.astype("float64"), levels).tobytes()


def test_strip_breaks_refuse_constant_and_empty_values() -> None:
    constant = np.full((4, 4), 3.0, "float32")
    with pytest.raises(ValueError, match="constant"):
        strip_data_breaks(lambda: iter([constant]), "quantile", 4)
    with pytest.raises(ValueError, match="no valid value"):
        strip_data_breaks(lambda: iter([constant * np.nan]), "natural", 4)
    with pytest.raises(ValueError, match="use quantile or natural"):
        strip_data_breaks(lambda: iter([constant]), "equal", 4)


# --- the factor report ---------------------------------------------------------------------


def test_the_report_read_by_strips_equals_the_whole_stacks(region_path: Path, tmp_path: Path):
    from lsgh_ee.inventory import read_inventory

    region, factors = _region(region_path)
    stack = compute_local_factors(region, factors)
    stack.write(tmp_path)
    mask = read_inventory(region.config.inventory, region).mask(region.grid, "polygon")
    whole = factor_report(stack, mask, n_samples=300, seed=3)
    for rows in (4, 0):
        part = factor_report_from_file(tmp_path / "class_codes.tif", stack.names, mask,
                                       n_samples=300, seed=3, strip_rows=rows)  # fmt: skip
        assert part.correlation.equals(whole.correlation)
        assert part.importance.equals(whole.importance)
        assert (part.n_landslide, part.n_other) == (whole.n_landslide, whole.n_other)
    # a sample smaller than the region: every landslide pixel kept, correlations close
    valid = (stack.codes > 0).all(axis=0)
    small = factor_report_from_file(tmp_path / "class_codes.tif", stack.names, mask,
                                    n_samples=300, seed=3, strip_rows=4,
                                    sample=int(valid.sum()) // 3)  # fmt: skip
    assert small.n_landslide == whole.n_landslide == min(300, int((valid & mask).sum()))
    assert small.importance.index.size == len(stack.names)
    diff = (small.correlation - whole.correlation).abs().to_numpy()
    assert np.nanmax(diff) < 0.1
    # the draw does not depend on the strips
    other = factor_report_from_file(tmp_path / "class_codes.tif", stack.names, mask,
                                    n_samples=300, seed=3, strip_rows=7,
                                    sample=int(valid.sum()) // 3)  # fmt: skip
    assert other.correlation.equals(small.correlation)
    assert other.importance.equals(small.importance)
