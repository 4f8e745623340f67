"""Words the dashboards show that tests look for: page titles, widget labels and keys, messages.

Tests (AppTest and the browser suite) import these instead of repeating the text, so a reworded
label changes in one place.
"""

from __future__ import annotations

APP_TITLE = "tracelake"
APP_TAGLINE = "Traceability lake"

# ------------------------------------------------------------------ pages: (url path, title, icon)
OVERVIEW = ("overview", "Overview", ":material/dashboard:")
RECALL = ("recall", "Recall / where-used", ":material/account_tree:")
DEVICE = ("device", "Device history", ":material/memory:")
BATCH = ("batch", "Batch record", ":material/inventory_2:")
TRENDS = ("trends", "NCR and yield trends", ":material/trending_up:")
CALIBRATION = ("calibration", "Calibration", ":material/straighten:")
DATA_QUALITY = ("data-quality", "Data quality", ":material/fact_check:")
ASK = ("ask", "Ask the lake", ":material/terminal:")
SPC = ("spc", "SPC and capability", ":material/monitoring:")
PAGES = (OVERVIEW, RECALL, DEVICE, BATCH, TRENDS, SPC, CALIBRATION, DATA_QUALITY, ASK)

#: Query parameters a link may carry to open a page at a record.
PARAMS = {"recall": ("component", "lot", "supplier"), "device": ("serial",), "batch": ("job",),
          "calibration": ("equipment",),
          "data-quality": ("table", "file", "row", "of", "column", "value"),
          "ask": ("sql",), "trends": ("product",),
          "spc": ("product", "step", "measurement"), "overview": ()}

# ------------------------------------------------------------------ header and search
SEARCH_LABEL = "Find anything"
SEARCH_KEY = "search"
SEARCH_PLACEHOLDER = "serial, lot, job, NCR, ECN, equipment, certificate, order, or words…"
SEARCH_NONE = "Nothing in the lake names {text}."
SEARCH_HITS = "{n} record(s) name {text}"

# ------------------------------------------------------------------ empty states and errors
NO_LAKE_TITLE = "No lake yet"
INTERNAL_ERROR = ("Something went wrong on this page ({what}). The details are in the server log; "
                  "the rest of the dashboards still work.")

# ------------------------------------------------------------------ recall
RECALL_MODE_KEY = "recall_mode"
RECALL_MODE_LOT = "One lot"
RECALL_MODE_SUPPLIER = "Every lot from a supplier"
COMPONENT_LABEL = "Component"
COMPONENT_KEY = "recall_component"
LOT_LABEL = "Lot"
LOT_KEY = "recall_lot"
SUPPLIER_LABEL = "Supplier"
SUPPLIER_KEY = "recall_supplier"
ISSUED_KEY = "recall_issued"
INCLUDE_REMOVED_LABEL = "Include units the part was removed from"
INCLUDE_REMOVED_KEY = "recall_removed"
RECALL_PICK = "Pick a component and one of its lots to see every unit that contains it."
RECALL_NOTHING = "No unit contains this lot."
RECALL_UNITS = "Affected units"
RECALL_SHIPPED = "Shipped"
RECALL_CUSTOMERS = "Customers"
RECALL_IN_HOUSE = "Still in house"
RECALL_CSV = "Download recall list (CSV)"
RECALL_XLSX = "Download recall list (XLSX)"
RECALL_EPCIS = "Download EPCIS 2.0 (JSON-LD)"
RECALL_TABLE_KEY = "recall_table"
#: the units the part was removed from in rework, listed only while their expander is open
RECALL_REMOVED_KEY = "recall_removed_open"
#: the one chart drawn on the recall page (the others a click away)
RECALL_CHART_KEY = "recall_chart"
RECALL_CHART_LABEL = "Chart"
RECALL_CHARTS = ("From lot to devices", "Units by status", "Units by customer")

# ------------------------------------------------------------------ device history
SERIAL_LABEL = "Serial number or scanned label"
SERIAL_KEY = "device_serial"
#: the open tab of the device history record (only the open tab runs)
DEVICE_TAB_KEY = "device_tab"
SERIAL_HELP = ("Type a serial, or scan the unit's GS1 label: the serial (AI 21) is read from "
               "an element string such as (01)05060123450019(21)SPX200-0004.")
DEVICE_PICK = "Type or scan a serial number to see the unit's device history record."
DEVICE_PDF = "Download DHR (PDF)"

# ------------------------------------------------------------------ batch record
JOB_LABEL = "Job"
JOB_KEY = "batch_job"
#: the open tab of the batch record (only the open tab runs: the others cost nothing to draw)
BATCH_TAB_KEY = "batch_tab"
BATCH_PICK = "Pick a job to see its batch manufacturing record."
BATCH_PDF = "Download BMR (PDF)"
BATCH_EPCIS = "Download EPCIS 2.0 (JSON-LD)"
BATCH_BLOCKED = "Release blocked"
BATCH_CLEAR = "Clear for release"

# ------------------------------------------------------------------ trends
TREND_DATES_KEY = "trend_dates"
TREND_PRODUCTS_KEY = "trend_products"
TREND_PERIOD_KEY = "trend_period"
TREND_BY_KEY = "trend_by"
#: the one chart drawn on the trends page (the others on demand: each is a click away)
TREND_CHART_KEY = "trend_chart"
TREND_CHART_LABEL = "Chart"
TREND_CHARTS = ("NCRs over time", "Pareto of defects", "First-pass yield map", "Yield over time",
                "Rework over time", "Open NCRs by age")
TREND_NO_NCRS = "No NCRs were raised in this window."
TREND_NO_RESULTS = "No test results in this window."
#: every NCR of the window, listed only while its expander is open
TREND_ALL_NCRS_KEY = "trend_all_ncrs_open"

# ------------------------------------------------------------------ calibration
DUE_WITHIN_KEY = "cal_due_within"
EQUIPMENT_KEY = "cal_equipment"
#: the calibration history of all equipment, drawn only while its expander is open
CAL_HISTORY_KEY = "cal_history_open"
CAL_HISTORY_LABEL = "Calibration history, all equipment"
OOT_NONE = "No calibration has found equipment out of tolerance."
#: a finding's suspect results, listed only while their expander is open
CAL_SUSPECT_RESULTS_KEY = "cal_suspect_results_open"

# ------------------------------------------------------------------ data quality
DQ_RUN_KEY = "dq_run"
DQ_ALL_RUNS = "All runs"
DQ_TABLE_KEY = "dq_table"
DQ_LINEAGE_TABLE_KEY = "dq_lineage_table"
DQ_LINEAGE_COLUMN_KEY = "dq_lineage_column"
DQ_LINEAGE_VALUE_KEY = "dq_lineage_value"
DQ_NO_QUARANTINE = "Nothing was quarantined: every row read was loaded."
DQ_NO_ORPHANS = "No orphan references: every job, serial, lot and equipment named is known."
DQ_LINEAGE_NONE = "No {table} row has {column} = {value}."

# ------------------------------------------------------------------ ask the lake
SQL_LABEL = "SQL (one SELECT)"
SQL_KEY = "ask_sql"
SQL_RUN = "Run query"
SQL_EXAMPLE = ("SELECT serial_number, product_code, status\nFROM units\n"
               "WHERE status = 'shipped'\nORDER BY serial_number")
SQL_CSV = "Download result (CSV)"
SQL_XLSX = "Download result (XLSX)"
SQL_ROWS = "{n} row(s)"
SQL_TABLE_KEY = "ask_table"

# ------------------------------------------------------------------ login and review (signatures)
LOGIN_TITLE = "Log in to tracelake"
LOGIN_USER = "User name"
LOGIN_PASSWORD = "Password"
LOGIN_BUTTON = "Log in"
LOGIN_FAILED = "User name or password not recognised."
LOGOUT_BUTTON = "Log out"
REVIEW_TITLE = "Review and signatures"
REVIEW_NO_SIGNERS = ("Nobody can sign yet: add a reviewer or approver with "
                     "`tracelake user add NAME --role reviewer`.")
REVIEW_VIEW_ONLY = "You are logged in as a {role}: only a reviewer or approver can sign."
DISPOSE_FORM = "Dispose of findings"
DISPOSE_FINDINGS = "Findings"
DISPOSE_AS = "Disposition"
DISPOSE_RATIONALE = "Rationale"
DISPOSE_NCR = "NCR number (for 'NCR raised')"
DISPOSE_PASSWORD = "Your password (to sign the disposition)"
DISPOSE_BUTTON = "Sign disposition"
SIGN_FORM = "Sign the batch"
SIGN_MEANING = "Meaning of the signature"
SIGN_COMMENT = "Comment (a rejection needs the reason)"
SIGN_PASSWORD = "Your password (to sign the batch)"
SIGN_BUTTON = "Sign"
DISPOSITION_LABELS = {"accepted": "Accepted (with a rationale)", "ncr_raised": "NCR raised",
                      "corrected_at_source": "Corrected at source",
                      "rejected": "Rejected (the finding does not apply)"}
MEANING_LABELS = {"release": "Release the batch", "rejection": "Reject the batch"}

# ------------------------------------------------------------------ overview
OVERVIEW_NCRS = "Open NCRs"
#: the chart of the open NCRs (by age, by disposition), drawn only while its expander is open
OVERVIEW_NCR_CHART_KEY = "ov_ncr_chart_open"
OVERVIEW_NCR_CHART = "Chart: open NCRs by age and by disposition"
OVERVIEW_JOBS = "Jobs blocked or waiting for review"
OVERVIEW_EQUIPMENT = "Equipment"
OVERVIEW_LOTS = "Lots on hold or recalled, in units still in house"
OVERVIEW_INGEST = "Last ingest run"
OVERVIEW_ALL_CLEAR = "Nothing here needs attention."
OVERVIEW_NO_LOTS = ("The plant sends no lots table, so holds and recalls of lots are unknown "
                    "here (the import contract's `lots`).")

# ------------------------------------------------------------------ SPC
SPC_DATES_KEY = "spc_dates"
SPC_PRODUCTS_KEY = "spc_products"
SPC_SERIES_KEY = "spc_series"
SPC_SERIES_LABEL = "Chart of"
SPC_TABLE_KEY = "spc_table"
#: the points breaking a run rule, listed only while their expander is open
SPC_FLAGGED_KEY = "spc_flagged_open"
SPC_CSV = "Download capability table (CSV)"
SPC_POINTS_CSV = "Download chart points (CSV)"
SPC_NO_RESULTS = "No numeric test results in this window."
SPC_LOT_EFFECTS = "What moves this measurement?"
SPC_LOT_EFFECTS_KEY = "spc_lot_effects"
LOT_MOVES = "What does this lot move?"
LOT_MOVES_KEY = "recall_lot_moves"
LOT_MOVES_NONE = ("This lot moves no measurement: on every measurement its units read like the "
                  "units holding the component's other lots (Welch t-test, Holm-adjusted, "
                  "|Hedges g| ≥ 0.5).")
SPC_NO_LOT_EFFECT = ("No component lot moves this measurement: no lot differs from its "
                     "component's other lots by |Hedges g| ≥ 0.5 with Holm-adjusted p < 0.05.")
