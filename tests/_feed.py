"""A Pathway input that emits given chunks of rows, one minibatch each."""

import time

import pathway as pw


class Feed(pw.io.python.ConnectorSubject):
    """One minibatch per chunk (a list of row dicts): commit, then pause so that the next chunk
    gets a later time; `after_chunk(n)` runs after chunk n is committed."""

    def __init__(self, chunks, pause_s=0.05, after_chunk=None):
        super().__init__()
        self.chunks, self.pause_s, self.after_chunk = chunks, pause_s, after_chunk

    def run(self):
        for n, chunk in enumerate(self.chunks):
            for row in chunk:
                self.next(**row)
            self.commit()
            time.sleep(self.pause_s)
            if self.after_chunk is not None:
                self.after_chunk(n)
