"""Region config: loading, path resolution and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import edit_config, write_config
from lsgh_ee.config import load_config
from lsgh_ee.errors import LsghError


def test_valid_config_resolves_paths_relative_to_the_file(region_config: Path) -> None:
    config = load_config(region_config)
    folder = region_config.parent.resolve()
    assert config.name == "synthetic"
    assert config.dem.path == folder / "dem.tif"
    assert config.factors["ndvi"].red == folder / "red.tif"
    assert config.inventory.path == folder / "landslides.gpkg"
    assert config.output.dir == folder / "run"
    assert config.resolution == 30
    assert config.heatmap.diameter == 13  # the paper's default scale
    assert config.factors["land_use"].remap == {10: "woodland", 30: "grassland", 40: "arable"}


def _error(path: Path) -> str:
    with pytest.raises(LsghError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unknown_key_is_named_with_the_known_ones(region_config: Path) -> None:
    edit_config(region_config, resolutoin=30)
    message = _error(region_config)
    assert "unknown key 'resolutoin'" in message
    assert "resolution" in message  # the known keys are listed


def test_unknown_nested_key_names_its_parent(region_config: Path) -> None:
    config = yaml.safe_load(region_config.read_text())
    config["factors"]["slope"] = {"brakes": [1, 2]}
    write_config(region_config, config)
    message = _error(region_config)
    assert "unknown key 'brakes' in 'factors.slope'" in message
    assert "breaks" in message


def test_wrong_type_names_the_key(region_config: Path) -> None:
    edit_config(region_config, resolution="thirty")
    message = _error(region_config)
    assert "key 'resolution'" in message
    assert "thirty" in message


def test_missing_file_names_key_and_path(region_config: Path) -> None:
    edit_config(region_config, dem={"path": "nowhere/dem.tif"})
    message = _error(region_config)
    assert "key 'dem.path'" in message and "nowhere/dem.tif" in message
    assert "relative to the config" in message


def test_missing_required_key(region_config: Path) -> None:
    edit_config(region_config, inventory=None)
    assert "missing required key 'inventory'" in _error(region_config)


def test_breaks_must_increase(region_config: Path) -> None:
    config = yaml.safe_load(region_config.read_text())
    config["factors"]["slope"] = {"breaks": [10, 30, 20]}
    write_config(region_config, config)
    message = _error(region_config)
    assert "factors.slope.breaks" in message and "strictly increasing" in message


@pytest.mark.parametrize(
    ("bbox", "fragment"),
    [([10, 40, 9, 41], "west < east"), ([10, 40, 11], "aoi.bbox"), ([10, 95, 11, 96], "degrees")],
)
def test_bad_bbox(region_config: Path, bbox: list, fragment: str) -> None:
    edit_config(region_config, aoi={"bbox": bbox})
    assert fragment in _error(region_config)


def test_aoi_needs_exactly_one_of_bbox_or_file(region_config: Path) -> None:
    edit_config(region_config, aoi={"bbox": [10, 40, 11, 41], "file": "dem.tif"})
    assert "exactly one of 'bbox'" in _error(region_config)


def test_heatmap_diameter_must_be_positive(region_config: Path) -> None:
    for bad in (0, -5):
        edit_config(region_config, heatmap={"diameter": bad})
        message = _error(region_config)
        assert "heatmap.diameter" in message and "greater than or equal to 1" in message


def test_invalid_yaml_gives_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\naoi: [1, 2\nfactors: {}\n")
    message = _error(path)
    assert "not valid YAML at line" in message


def test_missing_config_file(tmp_path: Path) -> None:
    assert "does not exist" in _error(tmp_path / "none.yaml")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "is not UTF-8 text"),  # a binary file
        ("name: café\n".encode("latin-1"), "is not UTF-8 text"),  # another encoding
        ("name: x\n".encode("utf-16"), "is not UTF-8 text"),  # UTF-16 with its BOM
        (b"name: x\x00y\n", "is not valid YAML"),  # UTF-8, but a character YAML refuses
        (b"- a\n- b\n", "must be a mapping of keys"),  # YAML, but a list
        (b"just words\n", "must be a mapping of keys"),  # YAML, but a string
    ],
)
def test_a_file_that_is_not_a_yaml_mapping_is_one_line_and_exit_2(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    from conftest import run_cli

    path = tmp_path / "region.yaml"
    path.write_bytes(content)
    proc = run_cli("check", str(path), check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: config {path} ") and fragment in lines[0]
    assert "Traceback" not in proc.stderr
