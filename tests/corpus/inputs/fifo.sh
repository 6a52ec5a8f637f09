# A FIFO nobody writes to: refused at once, without waiting for a writer.
mkfifo fifo
args=(apply -y -f fifo)
