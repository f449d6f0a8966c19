"""A minimal text-layer PDF writer for tests (no font embedded; a ToUnicode map carries the text)."""

from __future__ import annotations


def _to_unicode_cmap(high_bytes: list[int]) -> bytes:
    ranges = [f"<{h:02X}00> <{h:02X}FF> <{h:02X}00>" for h in high_bytes]
    blocks = []
    for i in range(0, len(ranges), 100):
        chunk = ranges[i : i + 100]
        blocks.append(f"{len(chunk)} beginbfrange\n" + "\n".join(chunk) + "\nendbfrange")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


def make_pdf(lines: list[str]) -> bytes:
    """One page per 40 lines; each line drawn with Identity-H codes equal to its code points."""
    chars = {ord(c) for line in lines for c in line}
    assert all(c <= 0xFFFF for c in chars)
    cmap = _to_unicode_cmap(sorted({c >> 8 for c in chars}))
    pages = [lines[i : i + 40] for i in range(0, len(lines), 40)] or [[]]
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes, extra: str = "") -> bytes:
        return f"<< /Length {len(data)}{extra} >>\nstream\n".encode() + data + b"\nendstream"

    catalog = add(b"")
    pages_obj = add(b"")
    tounicode = add(stream(cmap))
    descriptor = add(
        b"<< /Type /FontDescriptor /FontName /DubanTest /Flags 4 /FontBBox [0 -200 1000 900] "
        b"/ItalicAngle 0 /Ascent 900 /Descent -200 /CapHeight 700 /StemV 80 >>"
    )
    cid_font = add(
        f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /DubanTest /CIDSystemInfo << /Registry (Adobe) "
        f"/Ordering (Identity) /Supplement 0 >> /FontDescriptor {descriptor} 0 R /DW 1000 >>".encode()
    )
    font = add(
        f"<< /Type /Font /Subtype /Type0 /BaseFont /DubanTest /Encoding /Identity-H "
        f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {tounicode} 0 R >>".encode()
    )
    page_ids = []
    for page_lines in pages:
        ops = ["BT", "/F1 10 Tf", "14 TL", "40 800 Td"]
        for line in page_lines:
            ops.append("<" + "".join(f"{ord(c):04X}" for c in line) + "> Tj T*")
        ops.append("ET")
        content = add(stream("\n".join(ops).encode("ascii")))
        page_ids.append(
            add(
                f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 595 842] "
                f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {content} 0 R >>".encode()
            )
        )
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode()
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects[pages_obj - 1] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()

    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
