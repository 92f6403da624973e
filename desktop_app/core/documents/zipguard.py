"""Reading members of an untrusted ZIP with bounded memory and time.

A .docx is a ZIP, and a ZIP can promise anything: a 10 KB file can hold a
member that inflates to 5 GB, and the sizes in its directory can lie. So the
archive is judged before anything is inflated (number of members, declared
sizes, compression ratio), and each member is then inflated by hand, with
zlib's output capped at the size the directory declares plus one byte: a
member that inflates to more than it declares is caught after one extra byte,
never after gigabytes. `zipfile` only parses the central directory; its own
reader trusts the declared size and would report a lying member as a CRC
error, not as the attack it is.

Only the members a reader asks for are inflated (images never are), and all
of them together may not exceed `MAX_INFLATED_BYTES`.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from desktop_app.errors import DocumentError

#: Word writes a few dozen members; a document with thousands of images
#: still stays far below this.
MAX_MEMBERS = 10_000
#: All XML a reader inflates, together. The text of a 2,000-page contract
#: is a few tens of MB of XML; more is an attack or nothing a model can use.
MAX_INFLATED_BYTES = 100 * 1024 * 1024
#: XML deflates 5-20 to 1; deflate itself cannot do better than about 1,032
#: to 1, which only long runs of one byte reach.
MAX_RATIO = 200
#: Small members may compress as well as they like: they cannot hurt.
RATIO_FLOOR_BYTES = 1024 * 1024

_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_INPUT_CHUNK = 256 * 1024


class GuardedZip:
    """The members of a ZIP, inflated only on request and only within limits.

    Raises `DocumentError` ("looks like a ZIP bomb") when a limit is broken and
    `zipfile.BadZipFile` when the archive is damaged; the caller turns the
    latter into its own message.
    """

    def __init__(self, data: bytes, name: str) -> None:
        self._data = data
        #: The document's name as messages show it.
        self.name = name
        # Every central directory entry starts with this signature, so the count
        # bounds the number of members before zipfile builds an object for each.
        self._check_members(data.count(_CENTRAL_SIGNATURE))
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
        self._check_members(len(infos))
        # OPC part names are case-insensitive.
        self._infos = {info.filename.lower(): info for info in infos}
        self._budget = MAX_INFLATED_BYTES

    def names(self) -> list[str]:
        """Member names, lower-cased (OPC part names are case-insensitive)."""
        return list(self._infos)

    def read(self, member: str) -> bytes | None:
        """The inflated bytes of `member`, or None when the archive has no such member."""
        info = self._infos.get(member.lower())
        if info is None:
            return None
        declared = info.file_size
        if declared > self._budget:
            self._refuse(
                f"{member} unpacks to {_size(declared)}; Folio reads at most "
                f"{_size(MAX_INFLATED_BYTES)} of text parts"
            )
        if declared > RATIO_FLOOR_BYTES and declared > MAX_RATIO * max(info.compress_size, 1):
            ratio = declared / max(info.compress_size, 1)
            self._refuse(
                f"{member} is compressed {ratio:,.0f} to 1; documents stay below {MAX_RATIO} to 1"
            )
        data = self._inflate(info, member)
        if len(data) != declared or zlib.crc32(data) != info.CRC:
            raise zipfile.BadZipFile(f"{member}: size or CRC does not match the directory")
        self._budget -= declared
        return data

    def _inflate(self, info: zipfile.ZipInfo, member: str) -> bytes:
        if info.flag_bits & 0x1:
            raise zipfile.BadZipFile(f"{member} is encrypted")
        raw = self._raw(info)
        limit = info.file_size + 1
        if info.compress_type == zipfile.ZIP_STORED:
            data = bytes(raw[:limit])
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            data = _inflate_capped(raw, limit)
        else:
            # Word only deflates; bzip2 and LZMA cannot be inflated in bounded steps.
            raise zipfile.BadZipFile(f"{member} uses compression method {info.compress_type}")
        if len(data) > info.file_size:
            self._refuse(f"{member} unpacks to more than the {_size(info.file_size)} it declares")
        return data

    def _raw(self, info: zipfile.ZipInfo) -> memoryview:
        """The member's compressed bytes, without copying them."""
        offset = info.header_offset
        header = self._data[offset : offset + _LOCAL_HEADER.size]
        if len(header) < _LOCAL_HEADER.size:
            raise zipfile.BadZipFile("truncated local header")
        signature, name_len, extra_len = _LOCAL_HEADER.unpack(header)
        if signature != _LOCAL_SIGNATURE:
            raise zipfile.BadZipFile("bad local header signature")
        start = offset + _LOCAL_HEADER.size + name_len + extra_len
        end = start + info.compress_size
        if end > len(self._data):
            raise zipfile.BadZipFile("member data runs past the end of the file")
        return memoryview(self._data)[start:end]

    def _check_members(self, count: int) -> None:
        if count > MAX_MEMBERS:
            self._refuse(f"{count:,} files inside; documents have at most {MAX_MEMBERS:,}")

    def _refuse(self, why: str) -> None:
        raise DocumentError(f"{self.name} looks like a ZIP bomb ({why}); Folio will not open it.")


def _inflate_capped(raw: memoryview, limit: int) -> bytes:
    """Raw deflate data inflated to at most `limit` bytes, however much it holds."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    chunks: list[bytes] = []
    size = 0
    position = 0
    while size < limit and not inflater.eof:
        if inflater.unconsumed_tail:
            pending: bytes | memoryview = inflater.unconsumed_tail
        elif position < len(raw):
            pending = raw[position : position + _INPUT_CHUNK]
            position += _INPUT_CHUNK
        else:
            break  # truncated stream: the size check reports it
        piece = inflater.decompress(pending, limit - size)
        chunks.append(piece)
        size += len(piece)
    return b"".join(chunks)


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024**2:,.0f} MB"
    return f"{n:,} bytes"
