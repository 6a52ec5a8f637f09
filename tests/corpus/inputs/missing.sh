args=(apply -y -f nosuch.yaml)
