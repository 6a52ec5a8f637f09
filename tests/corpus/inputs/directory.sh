mkdir adir
args=(apply -y -f adir)
