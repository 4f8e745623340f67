"""Static master data for the synthetic plant: products, BOM lines, routings, people, equipment.

Kept apart from :mod:`tracelake.synthetic` (which builds the executed records) so the shape of
the plant can be read in one place. Nothing here is random: the generator draws the executed
records from these fixed catalogues with a seeded RNG.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CALIBRATION_TECHS",
    "ENGINEERS",
    "EQUIPMENT",
    "FIRMWARE",
    "INSPECTORS",
    "MEASUREMENTS",
    "OPERATORS",
    "QA_PEOPLE",
    "RELEASERS",
    "STOREKEEPERS",
    "Component",
    "LevelSpec",
    "Measurement",
    "OpSpec",
    "build_levels",
    "customers",
    "gtin14",
    "lot_string",
]


@dataclass(frozen=True)
class Component:
    """A bought-in component consumed by lot (never serialised).

    ``unit_level`` components are fitted and recorded per unit (``unit_components`` with a
    ``lot_number``); the others are issued to the job (``material_issues``).
    """

    code: str
    description: str
    uom: str
    qty_per: float
    suppliers: tuple[str, ...]
    lot_style: str  # "L" prefix+6 digits, "N" 7 bare digits, "D" date-coded, "R" reel id
    lot_base: int  # first lot sequence number (equal bases across codes reuse lot strings)
    unit_level: bool = False
    critical: bool = False
    revision: str = "A"


@dataclass(frozen=True)
class OpSpec:
    """One routing step of an MBR revision."""

    op_seq: int
    op_code: str
    description: str
    work_centre: str
    per_unit: bool
    first_article: bool
    needs_cal: bool
    equipment: tuple[str, ...]
    acceptance: str
    result: str = "done"  # result written for a completed step ("done" or "pass")
    unit_test: Measurement | None = None  # measured on every unit at this (batch) step


@dataclass(frozen=True)
class LevelSpec:
    """One serialised level of the BOM (1 = deepest sub-assembly, top = finished device)."""

    level: int
    products: tuple[str, ...]
    descriptions: tuple[str, ...]
    serial_letter: str
    child_qty: int  # serialised children per unit from the level below (0 at level 1)
    lines: tuple[tuple[Component, ...], ...]  # lot lines, one tuple per product
    ops: tuple[OpSpec, ...]
    top: bool = False


@dataclass(frozen=True)
class Measurement:
    """An end-of-line measurement with its limits and process spread."""

    name: str
    units: str
    low: float
    high: float
    mean: float
    sd: float


# Suppliers --------------------------------------------------------------------------------
_ACCU = "Accu Ltd"
_FARNELL = "Farnell UK"
_MOUSER = "Mouser Electronics"
_EUROCIRCUITS = "Eurocircuits"
_WURTH = "Würth Elektronik"
_ALPHA = "Alpha Assembly Solutions"
_SAFT = "Saft Batteries"
_HERAEUS = "Heraeus Nexensos"
_PLASTICS = "Bespoke Plastics Ltd"
_BRADY = "Brady Labels"
_RS = "RS Components"
_LOCTITE = "Henkel Loctite"

# Level 1: controller PCBA (all lots issued to the job: the reel/paste grain).
_PCBA_LINES = (
    Component("PCB-BARE", "Bare PCB, controller, 4 layer", "ea", 1, (_EUROCIRCUITS,), "N", 40001),
    Component("PASTE-SAC305", "Solder paste SAC305, type 4", "g", 0.8, (_ALPHA,), "D", 1),
    Component(
        "IC-MCU-32", "Microcontroller, 32-bit, LQFP64", "ea", 1, (_FARNELL, _MOUSER), "R", 7001
    ),
    Component("CON-USBC", "Connector, USB-C receptacle", "ea", 1, (_WURTH,), "R", 7001),
)


# Intermediate levels: sensor module (1 critical lot fitted per unit + 5 job-level lots).
def _module_lines(suffix: str) -> tuple[Component, ...]:
    return (
        Component(
            f"SEN-PT100{suffix}",
            "Sensor element, Pt100 class A",
            "ea",
            1,
            (_HERAEUS,),
            "L",
            200001,
            unit_level=True,
            critical=True,
        ),
        Component(f"CBL-HARN{suffix}", "Cable harness, sensor", "ea", 1, (_RS,), "N", 40001),
        Component(f"GSK-SIL{suffix}", "Gasket, silicone", "ea", 1, (_PLASTICS,), "D", 1),
        Component(f"SCR-M2X5{suffix}", "Screw M2x5, stainless", "ea", 4, (_ACCU,), "L", 100001),
        Component(f"ADH-EPOXY{suffix}", "Adhesive, epoxy 2-part", "g", 1.5, (_LOCTITE,), "D", 1),
        Component(f"BRK-AL{suffix}", "Bracket, aluminium", "ea", 1, (_PLASTICS, _RS), "L", 100001),
    )


def _top_lines(enclosure: str, enc_desc: str) -> tuple[Component, ...]:
    return (
        Component(
            "BAT-LI18650",
            "Battery pack, Li-ion 18650 2S",
            "ea",
            1,
            (_SAFT,),
            "L",
            300001,
            unit_level=True,
            critical=True,
        ),
        Component(enclosure, enc_desc, "ea", 1, (_PLASTICS,), "N", 40001),
        Component("SCR-M3X8", "Screw M3x8, stainless", "ea", 6, (_ACCU,), "L", 100001),
        Component("LBL-UDI", "Label stock, polyester, UDI", "ea", 1, (_BRADY,), "D", 1),
    )


def _ops_pcba() -> tuple[OpSpec, ...]:
    return (
        OpSpec(
            10,
            "SMT",
            "SMT placement",
            "SMT-LINE-1",
            False,
            True,
            False,
            ("SMT-01",),
            "Placement programme verified; first board AOI clean",
        ),
        OpSpec(
            20,
            "REFLOW",
            "Reflow soldering",
            "SMT-LINE-1",
            False,
            False,
            True,
            ("OVEN-01",),
            "Profile within paste window",
        ),
        OpSpec(
            30,
            "AOI",
            "Automated optical inspection",
            "SMT-LINE-1",
            False,
            False,
            False,
            ("AOI-01",),
            "No defects",
            "pass",
        ),
        OpSpec(
            40,
            "ICT",
            "In-circuit test",
            "TEST",
            False,
            False,
            True,
            ("RIG-ICT-01",),
            "All nets within limits",
            "pass",
            Measurement("rail_3v3", "V", 3.234, 3.366, 3.3, 0.012),
        ),
    )


def _ops_module() -> tuple[OpSpec, ...]:
    return (
        OpSpec(10, "KIT", "Kit components", "STORES", False, False, False, (), "Kit complete"),
        OpSpec(
            20,
            "ASSY",
            "Module assembly",
            "ASSY-2",
            False,
            True,
            False,
            (),
            "Bracket height 12.0 ± 0.2 mm",
        ),
        OpSpec(
            30,
            "CAL",
            "Sensor calibration",
            "TEST",
            False,
            False,
            True,
            ("DMM-01", "DMM-02"),
            "Offset within ± 0.3 °C",
            "pass",
            Measurement("offset_after_cal", "°C", -0.3, 0.3, 0.0, 0.06),
        ),
        OpSpec(
            40,
            "INSP",
            "Visual inspection",
            "QC",
            False,
            False,
            True,
            ("GAU-PIN-01",),
            "No visual defects",
            "pass",
        ),
    )


def _ops_top() -> tuple[OpSpec, ...]:
    return (
        OpSpec(10, "KIT", "Kit components", "STORES", False, False, False, (), "Kit complete"),
        OpSpec(
            20,
            "ASSY",
            "Final assembly",
            "ASSY-1",
            True,
            True,
            True,
            ("TRQ-01", "TRQ-02"),
            "Screw torque 1.0 ± 0.1 N·m",
        ),
        OpSpec(
            30,
            "FW",
            "Load firmware",
            "ASSY-1",
            False,
            False,
            False,
            (),
            "Released firmware build loaded",
        ),
        OpSpec(
            40,
            "EOL",
            "End-of-line test",
            "TEST",
            True,
            False,
            True,
            ("RIG-EOL-01", "RIG-EOL-02", "RIG-EOL-03"),
            "All measurements within limits",
            "pass",
        ),
        OpSpec(
            50,
            "LABEL",
            "Label and UDI check",
            "PACK",
            False,
            False,
            False,
            (),
            "GS1 element string verified",
        ),
        OpSpec(60, "PACK", "Pack", "PACK", False, False, False, (), "Packed per spec"),
    )


_INTERMEDIATE_LETTERS = "CEGHKN"


def build_levels(depth: int) -> list[LevelSpec]:
    """The serialised levels, deepest first; ``depth`` counts the finished device too.

    Level 1 is the controller PCBA (4 job-level lots), levels 2..depth-1 are modules
    (1 child serial + 6 lots, one of them fitted per unit), the top is DEV-A / DEV-B
    (2 child serials + 4 lots, one fitted per unit): 28 links per device at depth 3.
    """
    if not 2 <= depth <= 8:
        raise ValueError(f"bom_depth must be 2..8, got {depth}")
    levels = [
        LevelSpec(1, ("PCBA-CTRL",), ("Controller PCBA",), "P", 0, (_PCBA_LINES,), _ops_pcba())
    ]
    for k in range(2, depth):
        if k == depth - 1:
            code, desc, letter, suffix = "MOD-SENSE", "Sensor module", "M", ""
        else:
            code, desc = f"ASM-L{k}", f"Intermediate assembly, level {k}"
            letter, suffix = _INTERMEDIATE_LETTERS[k - 2], f"-L{k}"
        levels.append(
            LevelSpec(k, (code,), (desc,), letter, 1, (_module_lines(suffix),), _ops_module())
        )
    levels.append(
        LevelSpec(
            depth,
            ("DEV-A", "DEV-B"),
            ("Benchtop analyser, model A", "Benchtop analyser, model B (IP54)"),
            "D",
            2,
            (
                _top_lines("ENC-A", "Enclosure, model A, grey ABS"),
                _top_lines("ENC-B", "Enclosure, model B, IP54 PC/ABS"),
            ),
            _ops_top(),
            top=True,
        )
    )
    return levels


def lot_string(style: str, seq: int, year: int, week: int) -> str:
    """A supplier-style lot number; equal (style, seq) give equal strings across codes."""
    if style == "L":
        return f"L{seq:06d}"
    if style == "N":
        return f"{seq:07d}"
    if style == "R":
        return f"R{seq:08d}"
    return f"{year % 100:02d}W{week:02d}-{seq:04d}"


def gtin14(company_item: str) -> str:
    """GTIN-14 from 13 digits, with the GS1 mod-10 check digit appended."""
    digits = [int(c) for c in company_item]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return company_item + str((10 - total % 10) % 10)


MEASUREMENTS: tuple[Measurement, ...] = (
    Measurement("supply_current", "mA", 40.0, 60.0, 50.0, 2.5),
    Measurement("output_voltage", "V", 4.9, 5.1, 5.0, 0.022),
    Measurement("sensor_offset", "°C", -0.3, 0.3, 0.0, 0.07),
    Measurement("pressure_decay", "Pa", 0.0, 12.0, 4.0, 1.6),
    Measurement("insulation_resistance", "MΩ", 100.0, 10000.0, 2400.0, 350.0),
)

FIRMWARE: tuple[tuple[float, str, str], ...] = (
    # (fraction of the span from which it is loaded, version, build id)
    (0.0, "2.4.0", "b2040"),
    (0.2, "2.4.1", "b2113"),
    (0.45, "2.5.0", "b2290"),
    (0.7, "3.0.0", "b2502"),
    (0.9, "3.0.2", "b2577"),
)

# (equipment_id, description, kind, location)
EQUIPMENT: tuple[tuple[str, str, str, str], ...] = (
    ("RIG-EOL-01", "End-of-line test rig 1", "rig", "Test bay"),
    ("RIG-EOL-02", "End-of-line test rig 2", "rig", "Test bay"),
    ("RIG-EOL-03", "End-of-line test rig 3", "rig", "Test bay"),
    ("RIG-ICT-01", "In-circuit tester", "rig", "SMT line 1"),
    ("AOI-01", "Automated optical inspection", "rig", "SMT line 1"),
    ("SMT-01", "Pick-and-place machine", "tool", "SMT line 1"),
    ("OVEN-01", "Reflow oven with profiler", "tool", "SMT line 1"),
    ("DMM-01", "Digital multimeter 6.5 digit", "meter", "Test bay"),
    ("DMM-02", "Digital multimeter 6.5 digit", "meter", "Test bay"),
    ("TRQ-01", "Torque driver 0.3-2 N·m", "tool", "Assembly 1"),
    ("TRQ-02", "Torque driver 0.3-2 N·m", "tool", "Assembly 1"),
    ("GAU-CAL-01", "Digital caliper 150 mm", "gauge", "QC"),
    ("GAU-CAL-02", "Digital caliper 150 mm", "gauge", "QC"),
    ("GAU-PIN-01", "Pin gauge set 1-10 mm", "gauge", "QC"),
    ("GAU-HGT-01", "Height gauge 300 mm", "gauge", "QC"),
)

OPERATORS: tuple[str, ...] = (
    "a.khan",
    "b.okafor",
    "c.wright",
    "d.nowak",
    "e.murphy",
    "f.singh",
    "g.evans",
    "h.patel",
    "i.kowalski",
    "j.reid",
    "k.osei",
    "l.hughes",
    "m.byrne",
    "n.ali",
    "o.price",
    "p.walsh",
    "r.davies",
    "s.chen",
    "t.morgan",
    "u.begum",
)
INSPECTORS: tuple[str, ...] = ("v.clarke", "w.shaw", "y.ahmed", "z.doyle")
QA_PEOPLE: tuple[str, ...] = ("Helen Marsh", "Rajesh Iyer", "Claire Dunn")
RELEASERS: tuple[str, ...] = ("Dr Sarah Whitfield", "Tom Kendrick")
STOREKEEPERS: tuple[str, ...] = ("stores.jb", "stores.mk", "stores.pl")
ENGINEERS: tuple[str, ...] = ("Alan Brook", "Priya Nair", "Mark Ellis")
CALIBRATION_TECHS: tuple[str, ...] = ("cal.rt", "cal.gd", "N. Foster (UKAS lab)")

_CITIES: tuple[tuple[str, str], ...] = (
    ("Leeds", "GB"),
    ("Bristol", "GB"),
    ("Glasgow", "GB"),
    ("Cardiff", "GB"),
    ("Belfast", "GB"),
    ("Manchester", "GB"),
    ("Dublin", "IE"),
    ("Munich", "DE"),
    ("Lyon", "FR"),
    ("Utrecht", "NL"),
    ("Boston", "US"),
    ("Uppsala", "SE"),
    ("Sheffield", "GB"),
    ("Oxford", "GB"),
    ("Cambridge", "GB"),
    ("Aberdeen", "GB"),
    ("Nottingham", "GB"),
    ("Exeter", "GB"),
    ("Cork", "IE"),
    ("Hamburg", "DE"),
)
_KINDS = (
    "Teaching Hospitals",
    "Clinical Labs",
    "University",
    "Medical Supplies",
    "Diagnostics",
    "Research Institute",
    "Health Board",
    "Scientific Ltd",
    "Biotech",
    "Pathology Services",
)


def customers(n: int = 200) -> list[tuple[str, str]]:
    """``n`` deterministic, distinct (customer name, country) pairs."""
    out: list[tuple[str, str]] = []
    per_round = len(_CITIES) * len(_KINDS)
    for i in range(n):
        city, country = _CITIES[i % len(_CITIES)]
        kind = _KINDS[(i // len(_CITIES) + i % len(_CITIES)) % len(_KINDS)]
        name = f"{city} {kind}" if i < per_round else f"{city} {kind} {i // per_round + 1}"
        out.append((name, country))
    return out
