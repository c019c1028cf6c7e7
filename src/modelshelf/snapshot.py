"""A private in-memory copy of an artifact, hashed while it is read.

Deserializing a pickle runs code, so the bytes a serializer reads must be
the bytes whose digest was checked. Reading a stored file twice (once to
hash, once to load) leaves a window in which anyone who can write to the
storage can swap the file's content after the hash passed. A
:class:`Snapshot` closes it: the file is read exactly once, into memory only
this process holds, and hashed on the way; the serializer then reads that
memory, never the file.

Memory stays near the model's own size: the copy lives in chunks of
anonymous memory, and while a serializer reads forward (joblib and pickle
do) each chunk is returned to the operating system as soon as the reader
has moved past it, so the model grows as the copy shrinks. A serializer that
seeks back into released memory (one that reads a file through before parsing it) gets an
error instead of zeros and :attr:`Snapshot.rewound` is set; the caller then
captures again with ``release=False``.
"""

from __future__ import annotations

import hashlib
import io
import mmap
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

#: Memory is taken from, and given back to, the system in pieces this big.
CHUNK_BYTES = 16 * 1024 * 1024
#: Bytes are read and hashed in slices this big, each hashed right after it
#: is read, while it is still in the CPU cache.
SLICE_BYTES = 1024 * 1024


class Snapshot(io.BufferedIOBase):
    """A read-only, seekable stream over bytes captured (and hashed) once.

    Build one with :meth:`capture`; ``sha256`` and ``size`` describe exactly
    the bytes it serves.
    """

    def __init__(self, chunks: list[mmap.mmap], size: int, sha256: str, *, release: bool) -> None:
        super().__init__()
        self._chunks: list[mmap.mmap | None] = list(chunks)
        self._release = release
        self._position = 0
        #: Everything below this offset has been read in order; with release
        #: on, the chunks wholly below it are gone.
        self._consumed = 0
        self._released = 0
        self.size = size
        self.sha256 = sha256
        #: Set when a reader asked for bytes that were already released.
        self.rewound = False

    @classmethod
    def capture(cls, stream: IO[bytes], *, limit: int, release: bool = True) -> Snapshot:
        """Read up to ``limit`` bytes of ``stream`` into private memory, hashing them.

        Pass a limit one byte over the expected size: a longer file is then
        noticed (its size and digest differ) without reading all of it.
        """
        digest = hashlib.sha256()
        chunks: list[mmap.mmap] = []
        size = 0
        readinto = getattr(stream, "readinto", None)
        try:
            while size < limit:
                chunk = _allocate(min(CHUNK_BYTES, limit - size))
                chunks.append(chunk)
                filled = _fill(chunk, stream, readinto, digest)
                size += filled
                if filled < len(chunk):
                    break
        except BaseException:
            for chunk in chunks:
                chunk.close()
            raise
        return cls(chunks, size, digest.hexdigest(), release=release)

    # -- io -------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        position = max(0, base + offset)
        if position < self._released:
            self.rewound = True
            raise io.UnsupportedOperation(
                f"cannot seek to {position}: bytes below {self._released} were already "
                "released (the snapshot is read forward only)"
            )
        self._position = position
        return position

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._check_open()
        with memoryview(buffer) as view, view.cast("B") as out:
            wanted = min(len(out), self.size - self._position)
            done = 0
            while done < wanted:
                index, start = divmod(self._position, CHUNK_BYTES)
                with memoryview(self._chunk(index)) as source:
                    step = min(wanted - done, len(source) - start)
                    out[done : done + step] = source[start : start + step]
                done += step
                # Chunk by chunk: one large read (pickle fills a whole array
                # this way) frees the copy as it goes instead of at the end.
                self._advance(step)
        return done

    def readinto1(self, buffer: WriteableBuffer) -> int:
        return self.readinto(buffer)

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is None or size < 0:
            size = self.size - self._position
        data = self._bytes(self._position, size)
        self._advance(len(data))
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def peek(self, size: int = 0) -> bytes:
        self._check_open()
        return self._bytes(self._position, max(size, 1))

    def close(self) -> None:
        for chunk in self._chunks:
            if chunk is not None:
                chunk.close()
        self._chunks = []
        super().close()

    # -- internals ----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on a closed snapshot")

    def _chunk(self, index: int) -> mmap.mmap:
        chunk = self._chunks[index]
        if chunk is None:  # seek() refuses this; reaching it means a bug here
            raise io.UnsupportedOperation(f"chunk {index} was already released")
        return chunk

    def _bytes(self, position: int, size: int) -> bytes:
        end = min(self.size, position + size)
        pieces = []
        while position < end:
            index, start = divmod(position, CHUNK_BYTES)
            chunk = self._chunk(index)
            stop = min(len(chunk), start + end - position)
            pieces.append(chunk[start:stop])
            position += stop - start
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _advance(self, count: int) -> None:
        start = self._position
        self._position += count
        if start <= self._consumed:
            self._consumed = max(self._consumed, self._position)
        if not self._release:
            return
        while self._released + CHUNK_BYTES <= self._consumed:
            index = self._released // CHUNK_BYTES
            chunk = self._chunks[index]
            if chunk is not None:
                chunk.close()  # unmapped: the memory goes back to the system now
                self._chunks[index] = None
            self._released += CHUNK_BYTES


def _allocate(size: int) -> mmap.mmap:
    """Anonymous memory for one chunk, its pages mapped in one call where the
    system can (Linux): a page fault per 4 KiB page, taken one by one while
    reading, costs about as much as the read itself."""
    populate = getattr(mmap, "MAP_POPULATE", 0)
    if populate:
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | populate
        return mmap.mmap(-1, size, flags=flags)
    return mmap.mmap(-1, size)


def _fill(chunk: mmap.mmap, stream: IO[bytes], readinto: Any, digest: Any) -> int:
    """Fill ``chunk`` from ``stream`` slice by slice, hashing each slice; bytes filled."""
    filled = 0
    with memoryview(chunk) as view:
        while filled < len(view):
            with view[filled : filled + SLICE_BYTES] as piece:
                if readinto is not None:
                    count = readinto(piece) or 0
                else:
                    data = stream.read(len(piece))
                    count = len(data)
                    piece[:count] = data
                if count:
                    digest.update(piece[:count])
            if not count:
                break
            filled += count
    return filled
