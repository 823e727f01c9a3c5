#!/usr/bin/env python3
"""Checks images cgrad drew, independently of cairo: the standard library
only (a PNG decoder over zlib, SVG through xml.etree, the PDF header).

  image_check.py png FILE W H [R,G,B ...]  valid PNG of W x H; prints the
                                           number of pixels of each colour
  image_check.py svg FILE W H              valid SVG of W x H; prints JSON:
                                           curves (coloured stroked paths 40+
                                           wide), dashed, colours, dots
  image_check.py pdf FILE W H              a PDF whose page is W x H
Exits 1 with a message when the file is not what it should be.
"""
import json
import re
import struct
import sys
import xml.etree.ElementTree as ET
import zlib


def fail(msg):
    print(f"image_check: {msg}", file=sys.stderr)
    sys.exit(1)


def png_chunks(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("not a PNG (signature)")
    pos = 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(kind + body) != crc:
            fail(f"PNG chunk {kind!r}: bad CRC")
        yield kind, body
        pos += 12 + length


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def unfilter(raw, width, height, bpp):
    stride = width * bpp
    rows, prev, pos = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
            line[i] = (line[i] + pred) & 255
        rows.append(line)
        prev = line
    return rows


def check_png(path, width, height, colours):
    data = open(path, "rb").read()
    header, idat, ended = None, b"", False
    for kind, body in png_chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            ended = True
    if not header or not ended:
        fail("PNG without IHDR or IEND")
    w, h, depth, colour_type, _, _, interlace = header
    if (w, h) != (width, height):
        fail(f"PNG is {w}x{h}, expected {width}x{height}")
    if depth != 8 or colour_type not in (2, 6) or interlace:
        fail(f"unexpected PNG layout (depth {depth}, colour type {colour_type})")
    bpp = 3 if colour_type == 2 else 4
    rows = unfilter(zlib.decompress(idat), w, h, bpp)
    counts = []
    for rgb in colours:
        want = [int(v) for v in rgb.split(",")]
        n = 0
        for row in rows:
            for x in range(0, w * bpp, bpp):
                if all(abs(row[x + k] - want[k]) <= 2 for k in range(3)):
                    n += 1
        counts.append(n)
    print(" ".join(str(n) for n in counts))


def size_value(text):
    m = re.fullmatch(r"([0-9.]+)(px|pt)?", text or "")
    if not m:
        fail(f"SVG size {text!r} is not a number")
    return float(m.group(1))


def style_of(el):
    style = dict(el.attrib)
    for part in el.get("style", "").split(";"):
        if ":" in part:
            k, v = part.split(":", 1)
            style[k.strip()] = v.strip()
    return style


def rgb_of(text):
    m = re.fullmatch(r"rgb\(([0-9.]+)%,([0-9.]+)%,([0-9.]+)%\)", text or "")
    if m:
        return tuple(float(v) / 100 for v in m.groups())
    m = re.fullmatch(r"rgb\(([0-9]+),([0-9]+),([0-9]+)\)", text or "")
    if m:
        return tuple(int(v) / 255 for v in m.groups())
    if text and re.fullmatch(r"#[0-9a-fA-F]{6}", text):
        return tuple(int(text[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return None


def coloured(rgb):
    """Curves are in colour; frames, grids, text are grey."""
    return rgb is not None and max(rgb) - min(rgb) > 0.2


def x_extent(d):
    """How wide a path is: curves run across their panel, legend swatches
    are short (cairo also merges a constant curve into one segment, so
    counting points would not do)."""
    xs = [float(x) for x in re.findall(r"[ML] ([-0-9.]+) [-0-9.]+", d)]
    return max(xs) - min(xs) if xs else 0


def check_svg(path, width, height):
    root = ET.parse(path).getroot()
    if not root.tag.endswith("svg"):
        fail("the root element is not <svg>")
    w, h = size_value(root.get("width")), size_value(root.get("height"))
    if (w, h) != (width, height):
        fail(f"SVG is {w}x{h}, expected {width}x{height}")
    curves, dashed, dots, colours = 0, 0, 0, set()
    for el in root.iter():
        if not el.tag.endswith("path"):
            continue
        style = style_of(el)
        stroke, fill = rgb_of(style.get("stroke")), rgb_of(style.get("fill"))
        if coloured(stroke) and x_extent(el.get("d", "")) >= 40:
            curves += 1
            dashed += style.get("stroke-dasharray", "none") != "none"
            colours.add(tuple(round(v, 2) for v in stroke))
        elif coloured(fill) and " C " in " " + el.get("d", "") + " ":
            dots += 1
    print(json.dumps({"curves": curves, "dashed": dashed, "colours": len(colours), "dots": dots}))


def check_pdf(path, width, height):
    data = open(path, "rb").read()
    if not data.startswith(b"%PDF-"):
        fail("not a PDF (header)")
    if b"%%EOF" not in data[-64:]:
        fail("PDF without %%EOF at its end")
    boxes = re.findall(rb"/MediaBox\s*\[\s*([0-9.\s]+)\]", data)
    if not boxes:
        fail("PDF without a /MediaBox")
    x0, y0, x1, y1 = (float(v) for v in boxes[0].split())
    if (x1 - x0, y1 - y0) != (width, height):
        fail(f"PDF page is {x1 - x0}x{y1 - y0}, expected {width}x{height}")


def main():
    if len(sys.argv) < 5:
        fail(__doc__)
    kind, path, width, height = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if kind == "png":
        check_png(path, width, height, sys.argv[5:])
    elif kind == "svg":
        check_svg(path, width, height)
    elif kind == "pdf":
        check_pdf(path, width, height)
    else:
        fail(f"unknown kind {kind}")


if __name__ == "__main__":
    main()
