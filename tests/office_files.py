"""Files as offices have them, built byte for byte: OLE2 compound files (.doc, .wps, .msi), OFD.

Excel 97–2003 workbooks come from xlwt, a real writer. No maintained Python package writes Word
97–2003, so `compound_file` lays out a compound file (MS-CFB v3) by the specification, with the
streams Word writes (a WordDocument stream opening with its FIB magic, a 1Table stream); the
tests read each one back with olefile before trusting it.
"""

from __future__ import annotations

import io
import struct
import zipfile

SECTOR = 512
FREE, END, FAT_SECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
# Windows Installer databases carry this CLSID on their root entry.
MSI_CLSID = bytes.fromhex("84100c0000000000c000000000000046")

# A node: ("stream", name, bytes) or ("storage", name, [children]).
Node = tuple[str, str, object]


def _dir_entry(
    name: str, kind: int, *, child: int, right: int, start: int, size: int, clsid: bytes = b"\0" * 16
) -> bytes:
    encoded = name.encode("utf-16-le") + b"\0\0"
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        encoded.ljust(64, b"\0"),
        len(encoded),
        kind,
        1,  # black
        NOSTREAM,  # left sibling
        right,
        child,
        clsid,
        0,
        0,
        0,
        start,
        size,
    )


def compound_file(nodes: list[Node], *, root_clsid: bytes = b"\0" * 16) -> bytes:
    """A compound file holding the given streams and storages. Streams are padded to 4096 bytes,
    the mini-stream cutoff, so every stream lives in regular sectors."""
    flat: list[tuple[str, str, object, int]] = []  # (kind, name, payload, parent index)

    def walk(items: list[Node], parent: int) -> None:
        for kind, name, payload in items:
            flat.append((kind, name, payload, parent))
            if kind == "storage":
                assert isinstance(payload, list)
                walk(payload, len(flat))  # children's parent is this entry (index in directory)

    walk(nodes, 0)
    sectors: list[bytes] = []
    fat: list[int] = []
    starts: dict[int, tuple[int, int]] = {}
    for i, (kind, _name, payload, _parent) in enumerate(flat, start=1):
        if kind != "stream":
            continue
        assert isinstance(payload, bytes)
        data = payload.ljust(4096, b"\0")
        count = -(-len(data) // SECTOR)
        first = len(sectors)
        for n in range(count):
            sectors.append(data[n * SECTOR : (n + 1) * SECTOR].ljust(SECTOR, b"\0"))
            fat.append(first + n + 1 if n < count - 1 else END)
        starts[i] = (first, len(data))
    # Directory: root first; each parent's children chained through right siblings.
    children: dict[int, list[int]] = {}
    for i, (_k, _n, _p, parent) in enumerate(flat, start=1):
        children.setdefault(parent, []).append(i)
    entries = []
    for i in range(len(flat) + 1):
        kids = children.get(i, [])
        if i == 0:
            entries.append(
                _dir_entry(
                    "Root Entry", 5, child=kids[0], right=NOSTREAM, start=END, size=0, clsid=root_clsid
                )
            )
            continue
        kind, name, _payload, parent = flat[i - 1]
        siblings = children[parent]
        pos = siblings.index(i)
        right = siblings[pos + 1] if pos + 1 < len(siblings) else NOSTREAM
        start, size = starts.get(i, (END, 0))
        entries.append(
            _dir_entry(
                name,
                2 if kind == "stream" else 1,
                child=kids[0] if kids else NOSTREAM,
                right=right,
                start=start if kind == "stream" else 0,
                size=size,
            )
        )
    directory = b"".join(entries)
    directory = directory.ljust(-(-len(directory) // SECTOR) * SECTOR, b"\0")
    dir_first = len(sectors)
    dir_count = len(directory) // SECTOR
    for n in range(dir_count):
        sectors.append(directory[n * SECTOR : (n + 1) * SECTOR])
        fat.append(dir_first + n + 1 if n < dir_count - 1 else END)
    fat_sector = len(sectors)
    fat.append(FAT_SECT)
    assert len(fat) <= SECTOR // 4, "one FAT sector is enough for a test file"
    sectors.append(struct.pack(f"<{SECTOR // 4}I", *(fat + [FREE] * (SECTOR // 4 - len(fat)))))
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        b"\0" * 16,
        0x003E,
        0x0003,
        0xFFFE,
        9,
        6,
        b"\0" * 6,
        0,  # directory sectors (0 in version 3)
        1,  # FAT sectors
        dir_first,
        0,
        4096,
        END,  # no mini FAT
        0,
        END,  # no DIFAT sectors
        0,
    )
    header += struct.pack("<109I", fat_sector, *([FREE] * 108))
    assert len(header) == SECTOR
    return header + b"".join(sectors)


def _fib() -> bytes:
    # FibBase: wIdent 0xA5EC (Word), nFib 0x00C1 (Word 97 and later), lid 0x0804 (zh-CN).
    return struct.pack("<HHHH", 0xA5EC, 0x00C1, 0, 0x0804)


def word_97(*, macros: bool = False) -> bytes:
    """A Word 97–2003 (or WPS 文字) file's streams."""
    nodes: list[Node] = [
        ("stream", "WordDocument", _fib() + "关于科技创新工作的进展报告".encode("utf-16-le")),
        ("stream", "1Table", b"\0" * 64),
    ]
    if macros:
        nodes.append(("storage", "Macros", [("stream", "PROJECT", b'ID="{00000000}"\r\n')]))
    return compound_file(nodes)


def excel_97() -> bytes:
    import xlwt  # type: ignore[import-untyped]

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("任务分解表")
    for col, text in enumerate(("任务", "牵头单位", "完成时限")):
        sheet.write(0, col, text)
    sheet.write(1, 0, "强化高科技项目招引")
    sheet.write(1, 1, "县科技局")
    sheet.write(1, 2, "2025年12月31日")
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def msi_installer() -> bytes:
    """A Windows Installer database: a compound file too, and an executable in all but name."""
    return compound_file(
        [("stream", "\u4840\u3f3f\u4577\u446c\u3b6a\u45e4\u4824", b"\0" * 32)], root_clsid=MSI_CLSID
    )


def ofd(*, extra: dict[str, bytes] | None = None, namespace: bool = True) -> bytes:
    """An OFD package (GB/T 33190-2016): OFD.xml naming the document root, one page."""
    ns = ' xmlns:ofd="http://www.ofdspec.org/2016"' if namespace else ""
    p = "ofd:" if namespace else ""
    files = {
        "OFD.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><{p}OFD{ns} Version="1.0" DocType="OFD">'
            f"<{p}DocBody><{p}DocInfo><{p}DocID>a1b2</{p}DocID><{p}Title>进展报告</{p}Title>"
            f"</{p}DocInfo><{p}DocRoot>Doc_0/Document.xml</{p}DocRoot></{p}DocBody></{p}OFD>"
        ).encode(),
        "Doc_0/Document.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><{p}Document{ns}><{p}CommonData>'
            f"<{p}PageArea><{p}PhysicalBox>0 0 210 297</{p}PhysicalBox></{p}PageArea>"
            f'</{p}CommonData><{p}Pages><{p}Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/>'
            f"</{p}Pages></{p}Document>"
        ).encode(),
        "Doc_0/Pages/Page_0/Content.xml": f"<{p}Page{ns}><{p}Content/></{p}Page>".encode(),
        **(extra or {}),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()
