"""The collector's side of the fleet, on one central machine: the HTTP service, the checks every
arriving report passes, ingest of report files, the storage, host tokens, and the fleet summary
document. The ``server`` extra (starlette, uvicorn, fastjsonschema) is imported only where it is
used, so that an agent installed without it still runs ``scanner --help``."""
