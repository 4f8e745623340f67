"""``tracelake init``: put a lake on DuckLake (PostgreSQL catalog, data on a folder or S3)."""

from __future__ import annotations

from typing import Annotated

import typer

from tracelake.cli.app import DEFAULT_LAKE, LakeOption, _failures, app, err


@app.command()
def init(
    lake: LakeOption = DEFAULT_LAKE,
    catalog: Annotated[str, typer.Option(
        help="The DuckLake catalog: postgresql://USER@HOST:PORT/DATABASE (the password comes "
             "from PGPASSWORD or ~/.pgpass, never from this file).")] = "",
    data: Annotated[str, typer.Option(
        help="Where the Parquet data lives: s3://BUCKET/PREFIX or an absolute folder.")] = "",
    site: Annotated[str, typer.Option(
        help="This machine's site: the default --site of its ingest runs.")] = "main",
    metadata_schema: Annotated[str, typer.Option(
        help="PostgreSQL schema holding the catalog's tables (default: the database's public "
             "schema).")] = "",
    s3_endpoint: Annotated[str, typer.Option(
        help="HOST:PORT of an S3-compatible store (default: AWS, or AWS_ENDPOINT_URL).")] = "",
    s3_region: Annotated[str, typer.Option(help="The S3 region.")] = "",
    s3_url_style: Annotated[str, typer.Option(
        help="'path' or 'vhost' (default: path with --s3-endpoint).")] = "",
    s3_no_ssl: Annotated[bool, typer.Option(
        "--s3-no-ssl", help="Talk plain HTTP to the S3 endpoint (a store on this machine).")] = False,
) -> None:
    """Make LAKE a scale-out lake: DuckLake on PostgreSQL and a folder or S3 (tracelake.toml)."""
    from tracelake.errors import InputError
    from tracelake.lake.config import CONFIG_NAME, LakeConfig, write_config
    from tracelake.lake.paths import LakePaths

    with _failures(lake):
        if not catalog or not data:
            raise InputError("init needs --catalog postgresql://USER@HOST:PORT/DB and --data "
                             "s3://BUCKET/PREFIX or an absolute folder")
        paths = LakePaths.of(lake)
        if paths.database.exists():
            raise InputError(f"{paths.database}: this folder holds an embedded lake; give init "
                             "a new folder (moving an embedded lake's rows is not done by init)")
        config = LakeConfig(catalog=catalog, data=data, site=site,
                            metadata_schema=metadata_schema, s3_endpoint=s3_endpoint,
                            s3_region=s3_region, s3_url_style=s3_url_style,
                            s3_use_ssl=not s3_no_ssl)
        from tracelake.lake.config import check_config

        check_config(config, paths.root / CONFIG_NAME)
        existed = (paths.root / CONFIG_NAME).exists()
        path = write_config(paths.root, config)
        try:
            from tracelake.ingest.serving import refresh_serving
            from tracelake.lake.storage import connect_writer

            with connect_writer(paths):  # creates the lake's tables when it is new
                pass
            snap = refresh_serving(paths).snapshot
        except BaseException:
            if not existed:
                path.unlink(missing_ok=True)
            raise
        err.print(f"{path}: the lake is DuckLake on {catalog} with its data at {data} "
                  f"(snapshot {snap}); site {site}", highlight=False, markup=False)
