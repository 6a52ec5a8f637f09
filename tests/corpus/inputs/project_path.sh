# --project names a lock and a record file: a path is refused.
args=(destroy -y --project ../x)
