# -f - reads standard input (here empty).
args=(apply -y -f -)
