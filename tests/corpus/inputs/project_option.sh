args=(destroy -y --project=-x)
