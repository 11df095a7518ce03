"""Every file name and sub-folder of a run folder, in one place.

A run folder is where the stages of one region's run write their outputs (``output.dir``
of the config, or ``--out``). No other module spells one of these names: they ask a
:class:`RunFolder` for the path.

============================  ====================  ==========================================
file                          stage                 what it is
============================  ====================  ==========================================
factors.tif                   export-factors        float32 factor stack, one band per factor
class_codes.tif               export-factors        uint8 class codes, 0 = nodata
factor_schema.json            export-factors        factor names, kinds, breaks, classes
inventory.gpkg                export-factors        the landslides kept, grid CRS
factor_correlation.csv, ...   export-factors        the factor report
dem_ee.tif, factors_ee.tif    export-factors (ee)   what Earth Engine sent
heatmap.tif, samples.gpkg     sample                Gaussian heatmap; hard + soft samples
models/<model>/               train                 a model bundle
table4.csv/.md, *_curves.png  evaluate              Table 4 and the PR / ROC curves
evaluation.json               evaluate              Table 4, calibration, truth agreement (JSON)
table4_youden.csv/.md         evaluate              metrics at each model's Youden threshold
reliability.png               evaluate              reliability diagram (calibration)
maps/<model>/                 predict, zone         susceptibility.tif, zones.tif, tables, map
zoning.json, figures          zone                  Jenks zones of every model
preview.html, report.html     preview, report       the interactive map, the report
savedmodel/<model>/           export-model          TensorFlow SavedModel for Vertex AI
ee_assets.json                upload                Earth Engine asset ids of uploaded maps
scale_study/, transfer/       studies               their tables and figures
cv/                           cv                    per-fold metrics, Table 4 with intervals,
                                                    paired differences, fold AUC figure, cv.json
manifest.json                 every stage           what each stage did
============================  ====================  ==========================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder (nothing is created by asking)."""

    path: Path

    # export-factors
    FACTORS_TIF = "factors.tif"
    CODES_TIF = "class_codes.tif"
    FACTOR_SCHEMA_JSON = "factor_schema.json"
    INVENTORY_GPKG = "inventory.gpkg"
    CORRELATION_CSV = "factor_correlation.csv"
    IMPORTANCE_CSV = "factor_importance.csv"
    FACTOR_REPORT_PNG = "factor_report.png"
    DEM_EE_TIF = "dem_ee.tif"
    FACTORS_EE_TIF = "factors_ee.tif"
    EE_TILES_DIR = ".ee_tiles"
    # sample
    HEATMAP_TIF = "heatmap.tif"
    SAMPLES_GPKG = "samples.gpkg"
    # train, export-model
    MODELS_DIR = "models"
    SAVEDMODEL_DIR = "savedmodel"
    # evaluate (also the file names of a study's own table and curves)
    TABLE4_CSV = "table4.csv"
    TABLE4_MD = "table4.md"
    TABLE_STEM = "table4"
    PR_CURVES_PNG = "pr_curves.png"
    ROC_CURVES_PNG = "roc_curves.png"
    EVALUATION_JSON = "evaluation.json"
    RELIABILITY_PNG = "reliability.png"
    YOUDEN_STEM = "table4_youden"
    YOUDEN_CSV = "table4_youden.csv"
    YOUDEN_MD = "table4_youden.md"
    # predict, zone (inside maps/<model>/)
    MAPS_DIR = "maps"
    SUSCEPTIBILITY_TIF = "susceptibility.tif"
    ZONES_TIF = "zones.tif"
    INTERVALS_CSV = "intervals.csv"
    INTERVALS_MD = "intervals.md"
    ZONES_CSV = "zones.csv"
    MAP_PNG = "map.png"
    # zone (all models)
    ZONING_JSON = "zoning.json"
    HISTOGRAM_PNG = "index_histogram.png"
    DENSITY_PNG = "landslide_density.png"
    SUCCESS_PNG = "success_rate.png"
    # preview, report, upload, manifest
    PREVIEW_HTML = "preview.html"
    REPORT_HTML = "report.html"
    EE_ASSETS_JSON = "ee_assets.json"
    MANIFEST_JSON = "manifest.json"
    # studies
    SCALE_STUDY_DIR = "scale_study"
    STUDY_TABLE_STEM = "table"
    TRANSFER_DIR = "transfer"
    TRANSFER_JSON = "transfer.json"
    CV_DIR = "cv"
    CV_FOLDS_CSV = "folds.csv"
    CV_TABLE_CSV = "table4_cv.csv"
    CV_TABLE_MD = "table4_cv.md"
    CV_PAIRS_CSV = "paired.csv"
    CV_PAIRS_MD = "paired.md"
    CV_AUC_PNG = "fold_auc.png"
    CV_JSON = "cv.json"
    CV_MAPS_TIF = "fold_maps.tif"

    def __init__(self, path: str | os.PathLike) -> None:
        object.__setattr__(self, "path", Path(path))

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __fspath__(self) -> str:
        return str(self.path)

    # --- export-factors ---
    @property
    def factors(self) -> Path:
        return self.path / self.FACTORS_TIF

    @property
    def codes(self) -> Path:
        return self.path / self.CODES_TIF

    @property
    def factor_schema(self) -> Path:
        return self.path / self.FACTOR_SCHEMA_JSON

    @property
    def inventory(self) -> Path:
        return self.path / self.INVENTORY_GPKG

    @property
    def ee_tiles(self) -> Path:
        return self.path / self.EE_TILES_DIR

    # --- sample ---
    @property
    def heatmap(self) -> Path:
        return self.path / self.HEATMAP_TIF

    @property
    def samples(self) -> Path:
        return self.path / self.SAMPLES_GPKG

    # --- train, export-model ---
    @property
    def models(self) -> Path:
        return self.path / self.MODELS_DIR

    def model_dir(self, model: str) -> Path:
        """``models/<model>/``: the model bundle trained in this run."""
        return self.models / model

    def savedmodel_dir(self, model: str) -> Path:
        """``savedmodel/<model>/``: the SavedModel exported for hosting."""
        return self.path / self.SAVEDMODEL_DIR / model

    # --- evaluate ---
    @property
    def table4_md(self) -> Path:
        return self.path / self.TABLE4_MD

    @property
    def table4_csv(self) -> Path:
        return self.path / self.TABLE4_CSV

    @property
    def evaluation(self) -> Path:
        return self.path / self.EVALUATION_JSON

    # --- predict, zone ---
    @property
    def maps(self) -> Path:
        return self.path / self.MAPS_DIR

    def map_dir(self, model: str) -> Path:
        """``maps/<model>/``: one model's map, zones and zoning tables."""
        return self.maps / model

    def susceptibility(self, model: str) -> Path:
        return self.map_dir(model) / self.SUSCEPTIBILITY_TIF

    def zones(self, model: str) -> Path:
        return self.map_dir(model) / self.ZONES_TIF

    def mapped_models(self) -> list[str]:
        """Names of the models with a susceptibility map here (sorted)."""
        return sorted(p.parent.name for p in self.maps.glob(f"*/{self.SUSCEPTIBILITY_TIF}"))

    @property
    def zoning(self) -> Path:
        return self.path / self.ZONING_JSON

    # --- preview, report, upload, manifest ---
    @property
    def preview(self) -> Path:
        return self.path / self.PREVIEW_HTML

    @property
    def report(self) -> Path:
        return self.path / self.REPORT_HTML

    @property
    def ee_assets(self) -> Path:
        return self.path / self.EE_ASSETS_JSON

    @property
    def manifest(self) -> Path:
        return self.path / self.MANIFEST_JSON

    # --- studies ---
    @property
    def scale_study(self) -> Path:
        return self.path / self.SCALE_STUDY_DIR

    def transfer_dir(self, train: str, test: str) -> Path:
        """``transfer/<train>_to_<test>/``: a transfer-eval of this run's models on ``test``."""
        return self.path / self.TRANSFER_DIR / f"{train}_to_{test}"

    @property
    def cv(self) -> Path:
        """``cv/``: the cross-validation study's outputs."""
        return self.path / self.CV_DIR

    def cv_file(self, name: str) -> Path:
        """A file of ``cv/`` by its constant (``RunFolder.CV_JSON``, ...)."""
        return self.cv / name

    def study_table(self, folder: Path) -> Path:
        """The Markdown table a study writes into its ``folder``."""
        return folder / f"{self.STUDY_TABLE_STEM}.md"
