"""The v1 findings rules, one function each, named as in ``cli-contract.md``.

Every rule reads the canonical tables (current rows), and where the contract says so the
quarantine too, and returns :class:`Finding` rows. ``$job`` in a query is the job in scope (NULL
= every job). Times in messages are plant-local (``plant_time.stamp``).

Rules beyond the contract's v1 list: ``calibration_out_of_tolerance`` (results whose
calibration status at use is suspect: taken since the last good calibration before one that
found the equipment out of tolerance; ISO 13485 7.6 asks for an assessment),
``serial_in_two_units`` (a serial fitted into two units at once), and from import contract v2
``lot_expired_at_use``, ``lot_unusable_at_use`` (a goods-in lot rejected, on hold or recalled),
``equipment_out_of_service_at_use`` and ``calibration_as_found_not_recorded``.
"""


from __future__ import annotations

# imported in this order, the rules register in RULES as they always have
from tracelake.derived.findings.rules import (  # noqa: F401  (each module registers its rules)
    build,
    calibration,
    genealogy,
    materials,
    records,
)
