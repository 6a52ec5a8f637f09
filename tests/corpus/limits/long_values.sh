# Values of 100 kB and 50 kB, quoted back in the messages: each is cut to a
# line's length, saying how much was cut.
python3 -c 'print("name: \"" + "x" * 100000 + "\"\nservices:\n  a: {networks: [\"" + "y" * 50000 + "\"]}")' > long.yaml
args=(apply -y -f long.yaml)
