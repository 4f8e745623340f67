"""The import contract as code: one Pandera model per canonical table, with natural keys and references.

``CONTRACTS`` maps each table name of ``import-contract.md`` to its :class:`TableContract`.
Tables are listed in load order (master records first), which is also the order files are ingested
in one run, so that a job arrives before the units that name it where both come together.
"""

from __future__ import annotations

from tracelake.contracts.base import Reference, TableContract
from tracelake.contracts.calibration import Calibrations
from tracelake.contracts.executed import (
    BomSnapshot,
    Ecns,
    FirmwareLoads,
    JobEcns,
    Jobs,
    LabelChecks,
    MaterialIssues,
    Ncrs,
    Operations,
    Shipments,
    Signoffs,
    UnitComponents,
    Units,
)
from tracelake.contracts.goods_in import Customers, Lots
from tracelake.contracts.master import Equipment, Mbr, MbrBom, MbrOperations, Products
from tracelake.contracts.rig_logs import TestResults

__all__ = ["CONTRACTS", "Reference", "TableContract", "contract_for"]


def _ref(columns: str, table: str, target: str, kind: str) -> Reference:
    return Reference(tuple(columns.split(",")), table, tuple(target.split(",")), kind)


_PRODUCT = ("product_code", "products", "product_code", "product")
_JOB = ("job_id", "jobs", "job_id", "job")
_SERIAL = ("serial_number", "units", "serial_number", "serial")
_EQUIPMENT = ("equipment_id", "equipment", "equipment_id", "equipment")
_LOT = ("component_code,lot_number", "material_issues", "component_code,lot_number", "lot")
#: v2: a lot named in material issues or unit components that goods-in (``lots``) does not hold;
#: checked only once the plant sends ``lots`` at all (see lake/orphans.py)
_GOODS_IN = ("component_code,lot_number", "lots", "component_code,lot_number", "lot")

_ALL = [
    TableContract("products", "master", Products, ("product_code",)),
    TableContract("mbr", "master", Mbr, ("product_code", "mbr_revision"), (_ref(*_PRODUCT),)),
    TableContract("mbr_bom", "master", MbrBom, ("product_code", "mbr_revision", "line_no"),
                  (_ref("product_code,mbr_revision", "mbr", "product_code,mbr_revision", "mbr"),)),
    TableContract("mbr_operations", "master", MbrOperations,
                  ("product_code", "mbr_revision", "op_seq"),
                  (_ref("product_code,mbr_revision", "mbr", "product_code,mbr_revision", "mbr"),)),
    TableContract("equipment", "master", Equipment, ("equipment_id",),
                  defaults=(("status", "active"), ("calibration_required", "true"))),
    TableContract("lots", "master", Lots, ("component_code", "lot_number")),
    TableContract("customers", "master", Customers, ("customer",)),
    TableContract("jobs", "executed", Jobs, ("job_id",), (_ref(*_PRODUCT),)),
    TableContract("bom_snapshot", "executed", BomSnapshot, ("job_id", "line_no"), (_ref(*_JOB),)),
    TableContract("material_issues", "executed", MaterialIssues, ("issue_id",),
                  (_ref(*_JOB), _ref(*_GOODS_IN))),
    TableContract("units", "executed", Units, ("serial_number",),
                  (_ref(*_JOB), _ref(*_PRODUCT))),
    TableContract("unit_components", "executed", UnitComponents,
                  ("serial_number", "component_code", "component_serial", "lot_number",
                   "fitted_at"),
                  (_ref(*_SERIAL), _ref(*_LOT), _ref(*_GOODS_IN),
                   _ref("removal_ncr_id", "ncrs", "ncr_id", "ncr"))),
    TableContract("operations", "executed", Operations,
                  ("job_id", "op_seq", "serial_number", "started_at"),
                  (_ref(*_JOB), _ref(*_SERIAL), _ref(*_EQUIPMENT))),
    TableContract("ncrs", "executed", Ncrs, ("ncr_id",),
                  (_ref(*_JOB), _ref(*_SERIAL), _ref(*_LOT))),
    TableContract("ecns", "executed", Ecns, ("ecn_id",), (_ref(*_PRODUCT),)),
    TableContract("job_ecns", "executed", JobEcns, ("job_id", "ecn_id"),
                  (_ref(*_JOB), _ref("ecn_id", "ecns", "ecn_id", "ecn"))),
    TableContract("firmware_loads", "executed", FirmwareLoads,
                  ("serial_number", "build_id", "loaded_at"), (_ref(*_SERIAL),)),
    TableContract("label_checks", "executed", LabelChecks, ("serial_number", "checked_at"),
                  (_ref(*_SERIAL),)),
    TableContract("signoffs", "executed", Signoffs,
                  ("record_type", "record_id", "role", "signed_at")),
    TableContract("shipments", "executed", Shipments, ("serial_number", "order_ref"),
                  (_ref(*_SERIAL),)),
    TableContract("test_results", "rig_logs", TestResults,
                  ("serial_number", "test_step", "measurement", "tested_at"),
                  (_ref(*_SERIAL), _ref(*_EQUIPMENT)), derived=("value_text",)),
    TableContract("calibrations", "calibration", Calibrations, ("equipment_id", "calibrated_at"),
                  (_ref(*_EQUIPMENT),),
                  defaults=(("as_found", "not_recorded"), ("as_left", "not_recorded"))),
]

CONTRACTS: dict[str, TableContract] = {c.name: c for c in _ALL}

#: Dagster groups and dashboards show tables by family.
FAMILIES: dict[str, list[str]] = {}
for _c in _ALL:
    FAMILIES.setdefault(_c.family, []).append(_c.name)


def contract_for(table: str) -> TableContract:
    """The contract of a canonical table; KeyError names the known tables."""
    try:
        return CONTRACTS[table]
    except KeyError:
        known = ", ".join(CONTRACTS)
        raise KeyError(f"no table {table!r} in the import contract (known: {known})") from None
