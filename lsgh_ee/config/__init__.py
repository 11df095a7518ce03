"""Region config: the YAML file a user writes for their region, validated before any work.

Every path in the file is relative to the file itself. A wrong key, a wrong type, a bad
value or a missing file raises :class:`~lsgh_ee.errors.LsghError` with one line naming the
key and what is expected. See ``assets/demo/region.yaml`` for a complete example.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from lsgh_ee.config.earthengine import DemConfig, EarthEngineConfig
from lsgh_ee.config.inventory import InventoryConfig, resolve_inventory
from lsgh_ee.config.output import OutputConfig
from lsgh_ee.config.sampling import HeatmapConfig, SamplingConfig
from lsgh_ee.config.strict import Strict
from lsgh_ee.config.training import apply_preset
from lsgh_ee.errors import LsghError


class AOI(Strict):
    """Area of interest: a lon/lat bounding box or a vector file (exactly one)."""

    bbox: tuple[float, float, float, float] | None = Field(
        None, description="west, south, east, north in degrees (WGS 84)"
    )
    file: Path | None = Field(None, description="vector file whose features outline the AOI")

    @model_validator(mode="after")
    def _one_of(self) -> AOI:
        if (self.bbox is None) == (self.file is None):
            raise ValueError("give exactly one of 'bbox' [west, south, east, north] or 'file'")
        if self.bbox is not None:
            w, s, e, n = self.bbox
            if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
                raise ValueError(
                    "bbox must be [west, south, east, north] in degrees with west < east "
                    "and south < north"
                )
        return self


class TerrainConfig(Strict):
    """Parameters of the DEM derivatives (see lsgh_ee.factors.terrain)."""

    method: Literal["horn", "zevenbergen_thorne"] = "horn"
    flat_slope: float = Field(
        1.0, ge=0, lt=90, description="slope (degrees) below which aspect is 'flat'"
    )
    tpi_radius: float = Field(
        500.0, gt=0, description="radius (metres) of the topographic position index neighbourhood"
    )
    relief_radius: float = Field(500.0, gt=0, description="radius (metres) of local relief")
    drainage_area: float = Field(
        0.5,
        gt=0,
        description="upstream area (km²) from which a cell is part of the drainage network "
        "that distance_to_drainage measures to",
    )
    hydrology_halo: float = Field(
        1000.0,
        ge=0,
        description="metres of DEM read around the region for the flow routing of "
        "flow_accumulation, twi, spi, distance_to_drainage (catchments crossing it are cut)",
    )
    min_slope: float = Field(
        0.1,
        gt=0,
        lt=90,
        description="slope floor (degrees) of twi and spi: flatter cells count as this slope",
    )


class FactorConfig(Strict):
    """One factor's source and classification. Which keys apply depends on the factor:
    terrain factors need none (they come from ``dem``), NDVI takes ``red`` + ``nir`` or
    ``path``, rasters take ``path`` (+ ``band``), polygon layers ``path`` + ``attribute``,
    distance factors a line/point vector ``path``."""

    source: Literal["local", "ee"] = "local"
    kind: Literal["continuous", "categorical", "distance"] | None = Field(
        None, description="for factors not in the catalogue"
    )
    path: Path | None = None
    layer: str | None = None
    band: int = Field(1, ge=1)
    red: Path | None = None
    nir: Path | None = None
    attribute: str | None = Field(None, description="polygon attribute holding the class")
    remap: dict[int | float | str, str] | None = Field(
        None, description="source value → class name (land use, categorical rasters)"
    )
    classes: list[str] | None = Field(None, description="class names in code order 1..k")
    breaks: list[float] | None = Field(None, description="increasing class breaks (k-1 values)")
    classify: Literal["table2", "quantile", "natural"] = Field(
        "table2",
        description="continuous / distance factors: 'table2' uses 'breaks' or the catalogue's "
        "(the paper's Table 2); 'quantile' (equal-count) or 'natural' (Jenks, on a seeded "
        "sample) computes 'n_classes' classes from this region's own values; the breaks "
        "used are recorded in factor_schema.json and in every model bundle",
    )
    n_classes: int | None = Field(
        None,
        ge=2,
        le=255,
        description="classes for classify: quantile / natural (default: as many as the "
        "catalogue's Table 2 classes, 5 for other factors)",
    )
    years: list[int] | None = Field(
        None,
        description="Earth Engine NDVI: calendar years of imagery to composite "
        "(e.g. [2019, 2020]); ignored for local files",
    )
    asset: str | None = Field(
        None,
        min_length=1,
        description="source: ee: an Earth Engine table (FeatureCollection) id for distance "
        "and polygon factors, e.g. projects/my-project/assets/roads (else 'path' is sent "
        "inline when small)",
    )
    dataset: str | None = Field(
        None,
        min_length=1,
        description="source: ee: the land-cover ImageCollection id for land_use (default "
        "ESA/WorldCover/v200; give 'remap' for other products)",
    )
    units: str | None = None

    @field_validator("breaks")
    @classmethod
    def _increasing(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            if len(value) == 0:
                raise ValueError("breaks must list at least one value")
            if any(b >= a for b, a in zip(value, value[1:], strict=False) if not b < a):
                raise ValueError(f"breaks must be strictly increasing, got {value}")
            if len(value) > 254:
                raise ValueError("at most 254 breaks (255 classes) fit in a uint8 class code")
        return value

    @model_validator(mode="after")
    def _classify_options(self) -> FactorConfig:
        if self.classify != "table2" and self.breaks is not None:
            raise ValueError(
                f"give either 'breaks' or classify: {self.classify}, not both "
                "(classify: table2 uses the breaks)"
            )
        if self.classify == "table2" and self.n_classes is not None:
            raise ValueError("'n_classes' applies to classify: quantile or natural; remove it")
        return self

    @model_validator(mode="after")
    def _earth_engine_options(self) -> FactorConfig:
        if self.source == "local":
            extra = [k for k in ("asset", "dataset") if getattr(self, k) is not None]
            if extra:
                raise ValueError(
                    f"'{extra[0]}' applies to source: ee; add 'source: ee' or remove it"
                )
        if self.asset is not None and self.path is not None:
            raise ValueError(
                "give either 'asset' (an Earth Engine table) or 'path' (a local vector file "
                "sent to Earth Engine), not both"
            )
        if self.years is not None and (not self.years or min(self.years) < 2013):
            raise ValueError(
                f"'years' must list calendar years from 2013 (Landsat 8) on, got {self.years}"
            )
        return self

    @property
    def has_local_source(self) -> bool:
        return any(p is not None for p in (self.path, self.red, self.nir))


ModelName = Literal["rf-raw", "rf", "cnn", "lsgh-noscse", "lsgh", "lsgh-ctx"]
#: The model variants, in Table 4 order: the one list of their names. ``rf-raw`` (a random
#: forest on the factor values, the reference every change is compared with) comes first,
#: as a table's baseline row does; then the paper's four in the paper's order.
MODEL_VARIANTS: tuple[str, ...] = get_args(ModelName)


class TrainingConfig(Strict):
    """Model training: ``preset`` fills the network and optimiser settings the config
    leaves out (:mod:`lsgh_ee.config.training`): ``paper`` (§3.1) or ``default`` (the
    same with patience 20 and a seed ensemble of 5 networks)."""

    seed: int = 42
    preset: Literal["default", "paper"] = Field(
        "default",
        description="named settings filling loss, dropout, filters, learning_rate, "
        "lr_schedule, weight_decay, soft_weight, batch_size and patience where the config "
        "leaves them out: paper (the paper's §3.1) or default (the project's choice: the "
        "paper's with patience 20 and members 5)",
    )
    loss: Literal["mse", "bce"] = Field(
        "mse",
        description="network loss: mse (the paper) or bce (binary cross-entropy on the soft "
        "targets)",
    )
    dropout: float = Field(0.5, ge=0, lt=1, description="dropout before the output (paper: 0.5)")
    filters: list[int] = Field(
        [32, 64, 128, 256],
        min_length=2,
        description="conv block widths then the head width (paper: 32, 64, 128, 256)",
    )
    learning_rate: float = Field(1e-3, gt=0, description="Adam learning rate (paper: 0.001)")
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant",
        description="learning rate over training: constant (the paper) or cosine (from "
        "learning_rate down to 0 along half a cosine over 'epochs' epochs)",
    )
    weight_decay: float = Field(
        0.0, ge=0, description="L2 penalty on the conv and dense kernels (paper: 0)"
    )
    soft_weight: float = Field(
        1.0,
        ge=0,
        description="loss weight of each soft sample; hard samples weigh 1 (paper: 1.0)",
    )
    members: int = Field(
        1,
        ge=1,
        description="networks trained per network model, each from its own seed, whose "
        "outputs are averaged into one model (a seed ensemble; default preset: 5, paper: 1). "
        "Training and map prediction take this many times as long",
    )
    models: list[ModelName] = Field(
        default_factory=lambda: [m for m in MODEL_VARIANTS if m != "lsgh-ctx"],
        description="model variants 'run' trains and evaluates (lsgh-ctx, beyond the "
        "paper, only when named)",
    )
    epochs: int = Field(200, ge=1, description="maximum epochs (paper: 200)")
    patience: int = Field(
        20,
        ge=1,
        description="early-stopping patience in epochs (paper: 50; 20 gives the same models "
        "in about half the epochs, see README)",
    )
    batch_size: int = Field(32, ge=1, description="batch size (paper: 32)")
    validation_fraction: float = Field(
        0.2, ge=0, lt=1, description="share of the training samples used for early stopping"
    )
    early_stopping: Literal["val_auc", "val_loss", "val_brier"] = Field(
        "val_auc",
        description="validation score early stopping watches: ROC AUC of the hard validation "
        "samples (default), their mean squared error (val_brier), or the MSE of every "
        "validation sample (val_loss)",
    )
    smoothing: int = Field(
        1,
        ge=1,
        description="epochs in the moving average early stopping compares (1: the single "
        "epoch's score); the restored weights are those of the window's middle epoch",
    )
    min_epochs: int = Field(
        0, ge=0, description="epochs trained before early stopping may pick a best epoch"
    )
    rf_grid: dict[str, list[int | float | str | None]] | None = Field(
        None,
        description="the random forest's GridSearchCV grid, e.g. {n_estimators: [100, 300], "
        "max_depth: [null, 10]} (default: n_estimators 100/300, max_depth none/10, "
        "min_samples_leaf 1/5)",
    )
    calibration: Literal["none", "platt", "isotonic"] = Field(
        "none",
        description="calibration of every model's scores, fitted on the validation samples "
        "(networks: the early-stopping set; rf: cv's validation blocks, else its out-of-bag "
        "predictions) and applied to evaluation and maps: none (default, the paper's "
        "scores), platt (logistic on the logit) or isotonic (monotone steps, interpolated)",
    )

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        return apply_preset(data)


class EvaluationConfig(Strict):
    """Evaluation extras."""

    truth: Path | None = Field(
        None,
        description="a reference susceptibility raster (0-1), e.g. a simulated region's "
        "true susceptibility: models are also scored against it",
    )


class RegionConfig(Strict):
    """A validated region config with every path absolute."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    aoi: AOI
    crs: str = "auto"
    resolution: float = Field(30.0, gt=0)
    inventory: InventoryConfig
    dem: DemConfig | None = None
    terrain: TerrainConfig = TerrainConfig()
    factors: dict[str, FactorConfig | None]
    heatmap: HeatmapConfig = HeatmapConfig()
    sampling: SamplingConfig = SamplingConfig()
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    earthengine: EarthEngineConfig = EarthEngineConfig()
    output: OutputConfig = OutputConfig()
    source_file: Path | None = Field(None, exclude=True)

    @field_validator("factors")
    @classmethod
    def _factor_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("name at least one factor")
        for name in value:
            if not name.replace("_", "").isalnum():
                raise ValueError(f"factor name {name!r} must be letters, digits and '_'")
        return value

    @property
    def run_dir(self) -> Path:
        return self.output.dir

    @property
    def heatmap_diameter(self) -> int:
        """The heatmap diameter in pixels at this region's resolution (``heatmap.diameter``
        or ``heatmap.diameter_m`` converted): what every stage draws and records."""
        return self.heatmap.pixels(self.resolution)

    def digest_dict(self) -> dict[str, Any]:
        """The config as plain JSON-ready data (paths as strings) for the run manifest."""
        return self.model_dump(mode="json", exclude={"source_file"})


# --- loading -------------------------------------------------------------------------------

_PATH_KEYS = ("path", "red", "nir", "file")


def load_config(path: str | os.PathLike) -> RegionConfig:
    """Load, validate and resolve a region config.

    Raises:
        LsghError: unreadable YAML, unknown/missing keys, wrong types or values, or an
            input file that does not exist (the message names the key).
    """
    path = Path(path)
    if not path.is_file():
        raise LsghError(f"config file {path} does not exist; pass the path to a region YAML")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LsghError(
            f"config {path} is not UTF-8 text (byte {exc.start} cannot be read); pass a region "
            "YAML file, saved as UTF-8"
        ) from None
    except OSError as exc:
        raise LsghError(f"config {path} cannot be read ({exc.strerror}); check the path") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise LsghError(f"config {path} is not valid YAML{where}; fix the syntax") from exc
    if not isinstance(raw, dict):
        raise LsghError(f"config {path} must be a mapping of keys (name, aoi, factors, ...)")
    try:
        config = RegionConfig.model_validate(raw)
    except ValidationError as exc:
        raise LsghError(f"config {path}: {_first_error(exc)}") from exc
    return _resolve_paths(config, path)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if not str(p).startswith(("function-", "tagged")))
    key = _key_text(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _key_text(loc[:-1])
        model = _model_at(loc[:-1])
        names = [k for k, f in model.model_fields.items() if not f.exclude] if model else []
        known = f" (known keys: {', '.join(names)})" if model else ""
        where = f" in '{parent}'" if parent else ""
        return f"unknown key '{err['loc'][-1]}'{where}{known}; remove or rename it"
    if kind == "missing":
        return f"missing required key '{key}'; add it"
    msg = err["msg"].removeprefix("Value error, ")
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"key '{key}': {msg}{shown}" if key else msg


def _key_text(loc: tuple) -> str:
    """A key as users write it: ``inventory[1].path`` for the second of several sources."""
    return re.sub(r"\.sources\.(\d+)", r"[\1]", ".".join(str(p) for p in loc))


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] | None = RegionConfig
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):  # an item of a list (inventory sources)
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            # inside the factors mapping: the part is a factor name
            model = FactorConfig if model is RegionConfig else None
            continue
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if nested:
            model = nested[0]
        elif str(part) == "factors":
            model = RegionConfig  # next part is a factor name
        else:
            model = None
    return model


def _resolve_paths(config: RegionConfig, source: Path) -> RegionConfig:
    base = source.resolve().parent

    def resolve(value: Path | None, key: str, must_exist: bool = True) -> Path | None:
        if value is None:
            return None
        full = value if value.is_absolute() else base / value
        if must_exist and not full.exists():
            raise LsghError(
                f"config {source}: key '{key}' names {value}, which does not exist "
                f"(looked in {full.parent}); fix the path (paths are relative to the config)"
            )
        return full

    aoi = config.aoi.model_copy(update={"file": resolve(config.aoi.file, "aoi.file")})
    inventory = resolve_inventory(config.inventory, resolve)
    evaluation = config.evaluation.model_copy(
        update={"truth": resolve(config.evaluation.truth, "evaluation.truth")}
    )
    earthengine = config.earthengine.model_copy(
        update={"key_file": resolve(config.earthengine.key_file, "earthengine.key_file")}
    )
    dem = config.dem
    if dem is not None:
        dem = dem.model_copy(update={"path": resolve(dem.path, "dem.path", dem.source == "local")})
    factors: dict[str, FactorConfig | None] = {}
    for name, spec in config.factors.items():
        if spec is None:
            factors[name] = None
            continue
        local = spec.source == "local"
        factors[name] = spec.model_copy(
            update={
                k: resolve(getattr(spec, k), f"factors.{name}.{k}", local)
                for k in ("path", "red", "nir")
            }
        )
    return config.model_copy(
        update={
            "aoi": aoi,
            "inventory": inventory,
            "evaluation": evaluation,
            "earthengine": earthengine,
            "dem": dem,
            "factors": factors,
            "output": config.output.model_copy(update={"dir": base / config.output.dir}),
            "source_file": source.resolve(),
        }
    )
