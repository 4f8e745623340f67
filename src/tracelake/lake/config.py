"""The lake's storage mode, read from ``tracelake.toml`` in the lake folder.

Without the file the lake is *embedded*: one DuckDB file (``lake.duckdb``) and a published copy
for readers, nothing to start. ``tracelake init --catalog postgresql://... --data s3://...|PATH``
writes the file and puts the system of record on DuckLake: a PostgreSQL catalog (several writers
commit at once) and Parquet on a folder or object storage. The folder then holds only this file
and the machine's own derived indexes (``derived.duckdb``, ``serving.duckdb``).

No secret is stored here. The catalog's password comes from libpq's own places (``PGPASSWORD``,
``~/.pgpass``, ``PGSERVICEFILE``); S3 keys from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``
(and ``AWS_SESSION_TOKEN``), or DuckDB's credential chain (instance roles, ~/.aws) when unset.

Standard library only (the CLI imports paths.py, and so this, at start).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["CONFIG_NAME", "LakeConfig", "read_config", "write_config"]

CONFIG_NAME = "tracelake.toml"
_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class LakeConfig:
    """Where a scale-out lake keeps its catalog and its data, and this machine's site."""

    catalog: str                 # postgresql://USER@HOST:PORT/DB (no password)
    data: str                    # s3://bucket/prefix/ or an absolute folder
    site: str = "main"           # the default ``_site`` of this machine's runs
    metadata_schema: str = ""    # PostgreSQL schema of the catalog tables ('' : public)
    s3_endpoint: str = ""        # host:port of an S3-compatible store ('' : AWS, or AWS_ENDPOINT_URL)
    s3_region: str = ""
    s3_url_style: str = ""       # 'path' for most S3-compatible stores
    s3_use_ssl: bool = True

    def libpq(self) -> str:
        """The catalog as a libpq key=value string (what DuckDB's postgres extension takes)."""
        url = urlparse(self.catalog)
        parts = {"dbname": unquote(url.path.lstrip("/")), "host": url.hostname or "",
                 "port": str(url.port or ""), "user": unquote(url.username or "")}
        return " ".join(f"{k}={v}" for k, v in parts.items() if v)

    @property
    def on_s3(self) -> bool:
        """Whether the data lives on object storage."""
        return self.data.startswith("s3://")

    def data_path(self) -> str:
        """The data path with the trailing slash DuckLake wants."""
        return self.data if self.data.endswith("/") else self.data + "/"

    def s3_settings(self) -> dict[str, str | bool]:
        """Endpoint, region, URL style and SSL for DuckDB's S3 secret (config, then env)."""
        endpoint = self.s3_endpoint
        use_ssl = self.s3_use_ssl
        env = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
        if not endpoint and env:
            url = urlparse(env)
            endpoint = url.netloc or url.path
            use_ssl = url.scheme != "http"
        out: dict[str, str | bool] = {"use_ssl": use_ssl}
        if endpoint:
            out["endpoint"] = endpoint
            out["url_style"] = self.s3_url_style or "path"
        elif self.s3_url_style:
            out["url_style"] = self.s3_url_style
        region = self.s3_region or os.environ.get("AWS_REGION") or \
            os.environ.get("AWS_DEFAULT_REGION") or ""
        if region:
            out["region"] = region
        return out


def read_config(root: Path) -> LakeConfig | None:
    """The lake folder's scale-out settings (None: an embedded lake, no ``tracelake.toml``)."""
    path = root / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):  # no such lake (yet), or not a folder
        return None
    except OSError as exc:
        from tracelake.errors import LakeError

        raise LakeError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        doc = tomllib.loads(text)
        lake = doc.get("lake", {})
        s3 = doc.get("s3", {})
        config = LakeConfig(
            catalog=str(lake["catalog"]), data=str(lake["data"]),
            site=str(lake.get("site", "main")),
            metadata_schema=str(lake.get("metadata_schema", "")),
            s3_endpoint=str(s3.get("endpoint", "")), s3_region=str(s3.get("region", "")),
            s3_url_style=str(s3.get("url_style", "")), s3_use_ssl=bool(s3.get("use_ssl", True)))
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
        from tracelake.errors import LakeError

        what = f"no {exc}" if isinstance(exc, KeyError) else " ".join(str(exc).split())
        raise LakeError(f"{path}: not a tracelake lake configuration ({what}); "
                        "'tracelake init' writes one") from None
    check_config(config, path)
    return config


def check_config(config: LakeConfig, where: Path | str) -> None:
    """Refuse settings that cannot work, in one line naming what to change."""
    from tracelake.errors import InputError

    url = urlparse(config.catalog)
    if url.scheme not in ("postgresql", "postgres") or not url.path.strip("/"):
        raise InputError(f"{where}: catalog {config.catalog!r} is not a PostgreSQL address "
                         "(postgresql://USER@HOST:PORT/DATABASE)")
    if url.password:
        raise InputError(f"{where}: the catalog address holds a password; leave it out and set "
                         "PGPASSWORD or ~/.pgpass instead (the file is not a place for secrets)")
    if not (config.on_s3 or Path(config.data).is_absolute()):
        raise InputError(f"{where}: data {config.data!r} must be s3://BUCKET/PREFIX or an "
                         "absolute folder")
    if "'" in config.data or "'" in config.catalog or "'" in config.metadata_schema:
        raise InputError(f"{where}: quotes are not allowed in the catalog or data address")
    if not _SITE.match(config.site):
        raise InputError(f"{where}: site {config.site!r} must be letters, digits, '_', '.' or "
                         "'-' (at most 63)")
    if config.metadata_schema and not re.match(r"^[a-z_][a-z0-9_]{0,62}$", config.metadata_schema):
        raise InputError(f"{where}: metadata_schema {config.metadata_schema!r} must be a lowercase "
                         "PostgreSQL name")


def write_config(root: Path, config: LakeConfig) -> Path:
    """Write ``tracelake.toml`` (no secrets in it) and return its path."""
    check_config(config, root / CONFIG_NAME)

    def q(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["# tracelake scale-out lake: DuckLake catalog on PostgreSQL, data as Parquet.",
             "# Passwords and keys are never stored here: PGPASSWORD or ~/.pgpass for the",
             "# catalog, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or ~/.aws) for S3.",
             "[lake]", f"catalog = {q(config.catalog)}", f"data = {q(config.data)}",
             f"site = {q(config.site)}"]
    if config.metadata_schema:
        lines.append(f"metadata_schema = {q(config.metadata_schema)}")
    if config.s3_endpoint or config.s3_region or config.s3_url_style or not config.s3_use_ssl:
        lines.append("[s3]")
        if config.s3_endpoint:
            lines.append(f"endpoint = {q(config.s3_endpoint)}")
        if config.s3_region:
            lines.append(f"region = {q(config.s3_region)}")
        if config.s3_url_style:
            lines.append(f"url_style = {q(config.s3_url_style)}")
        lines.append(f"use_ssl = {'true' if config.s3_use_ssl else 'false'}")
    root.mkdir(parents=True, exist_ok=True)
    path = root / CONFIG_NAME
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
