#!/usr/bin/env python3
"""Draws the figure-check test pages: manuscript-like pages with known content, as one-page PDFs (reportlab, with a
text layer) and as PNGs rendered from them (pdfium through pypdfium2, 150 dpi), plus manifest.json with the truth.

Each page has a title or none, one or two columns of text in one of reportlab's standard fonts, and some of:
raster charts (bars, lines, dots; some blurred and at low resolution; labels 7-10 pt at print size, or tiny: 2-3.5 pt), tables
(reportlab tables), figure captions below figures and table captions above tables (some missing, some numbered out
of order). Some pages are rotated a quarter turn (/Rotate 90); some are "scanned" (the rendered page put back into a PDF as an
image, no text layer). A quarter of the pages is held out of tuning (split "heldout").

    make_pages.py OUT_DIR [--pages N] [--seed S]

Boxes in the manifest are in the PNG's pixels (origin top left) of the page as rendered (for a rotated page, the
rotated rendering). Needs reportlab, pypdfium2 and Pillow (pinned by scripts/vision/pages.sh).
"""
import argparse
import io
import json
import os
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont
import pypdfium2 as pdfium
from reportlab.lib.pagesizes import A4, letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
from reportlab.platypus import Table, TableStyle

DPI = 150
WORDS = ("the of and a to in is we that for this with as on are by be our from an at which results model method data "
         "study analysis these using between each were can it not all than more was paper review journal editor "
         "figure sample effect values based measured two three higher lower significant proposed approach").split()
FONTS = ["Helvetica", "Times-Roman", "Courier"]


def sentence(rng, n):
    w = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(w).capitalize() + "."


def label_points(px_w, px_h, tiny):
    """The print size of a chart's labels: tiny 2-3.5 pt, else 7-10 pt. Drawn from its own generator (seeded by the
    chart's size) so that the pages' layout does not depend on it."""
    r = random.Random(px_w * 7919 + px_h)
    return round(r.uniform(2.0, 3.5) if tiny else r.uniform(7.0, 10.0), 2)


def chart_png(rng, kind, px_w, px_h, dpi, points, blur):
    """A raster chart of px_w x px_h pixels (placed at dpi), its labels `points` high at print size; maybe blurred."""
    img = Image.new("RGB", (px_w, px_h), "white")
    d = ImageDraw.Draw(img)
    m = max(8, px_w // 12)
    d.line([(m, px_h - m), (px_w - m // 2, px_h - m)], fill="black", width=max(1, px_w // 300))
    d.line([(m, m // 2), (m, px_h - m)], fill="black", width=max(1, px_w // 300))
    n = rng.randint(4, 9)
    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
    vals = [rng.uniform(0.1, 1.0) for _ in range(n)]
    step = (px_w - 1.5 * m) / n
    if kind == "bars":
        for i, v in enumerate(vals):
            x0 = m + i * step + step * 0.15
            d.rectangle([x0, px_h - m - v * (px_h - 1.6 * m), x0 + step * 0.7, px_h - m - 1], fill=colours[i % 4])
    elif kind == "lines":
        for s in range(2):
            pts = [(m + i * step + step / 2, px_h - m - rng.uniform(0.1, 1.0) * (px_h - 1.6 * m)) for i in range(n)]
            d.line(pts, fill=colours[s], width=max(1, px_w // 150))
    else:
        for _ in range(40):
            x, y = rng.uniform(m, px_w - m), rng.uniform(m, px_h - m)
            r = max(2, px_w // 120)
            d.ellipse([x - r, y - r, x + r, y + r], fill=colours[rng.randint(0, 3)])
    size = max(2, round(points * dpi / 72))
    try:
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", size)
    except OSError:
        font = ImageFont.load_default()
    for i in range(n):
        d.text((m + i * step + step * 0.3, px_h - m + 2), str(i + 1), fill="black", font=font)
    d.text((m + 4, m // 4), "value", fill="black", font=font)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(radius=max(1.5, px_w / 160)))
    return img


def draw_page(rng):
    size = rng.choice([A4, letter])
    pw, ph = size
    font = rng.choice(FONTS)
    cols = rng.choice([1, 1, 2])
    margin = 54
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=size, invariant=1)
    truth = []  # (kind, x0, y0, x1, y1 in points from the top left, extra)

    def box(kind, x0, top, x1, bottom, **extra):
        truth.append({"kind": kind, "box": [x0, top, x1, bottom], **extra})

    y = margin  # distance from the top
    if rng.random() < 0.7:
        c.setFont(font + ("-Bold" if font == "Helvetica" else ""), 16)
        title = sentence(rng, rng.randint(5, 9)).rstrip(".")
        c.drawString(margin, ph - y - 16, title[:60])
        box("title", margin, y, margin + c.stringWidth(title[:60], c._fontname, 16), y + 20)
        y += 34
    col_w = (pw - 2 * margin - (cols - 1) * 18) / cols
    fig_no, tab_no = 0, 0
    numbering_broken = rng.random() < 0.15
    figures = []
    for col in range(cols):
        x = margin + col * (col_w + 18)
        cy = y
        while cy < ph - margin - 60:
            r = rng.random()
            if r < 0.55:  # a paragraph
                c.setFont(font, 9.5)
                lines = rng.randint(4, 9)
                for li in range(lines):
                    words = [rng.choice(WORDS) for _ in range(40)]
                    text = ""
                    for w in words:
                        if c.stringWidth(text + " " + w, font, 9.5) > col_w:
                            break
                        text = (text + " " + w).strip()
                    if li == lines - 1:
                        text = text[: max(10, len(text) // 2)]
                    c.drawString(x, ph - cy - 10, text)
                    cy += 12
                box("text", x, cy - lines * 12, x + col_w, cy)
                cy += 8
            elif r < 0.8:  # a figure
                fw = col_w * rng.uniform(0.6, 1.0)
                fh = fw * rng.uniform(0.5, 0.75)
                if cy + fh + 30 > ph - margin:
                    break
                low_res, blur, tiny = rng.random() < 0.2, rng.random() < 0.2, rng.random() < 0.2
                dpi = rng.choice([60, 90]) if low_res else rng.choice([200, 300])
                px_w, px_h = int(fw / 72 * dpi), int(fh / 72 * dpi)
                points = label_points(px_w, px_h, tiny)
                img = chart_png(rng, rng.choice(["bars", "lines", "dots"]), px_w, px_h, dpi, points, blur)
                fx = x + (col_w - fw) / 2
                c.drawImage(ImageReader(img), fx, ph - cy - fh, fw, fh)
                fig_no += 1
                captioned = rng.random() < 0.75
                number = fig_no
                if numbering_broken and fig_no == 2:
                    number = 3
                figures.append(number)
                box("figure", fx, cy, fx + fw, cy + fh, dpi=dpi, blurred=blur, tiny_text=tiny, label_points=points,
                    captioned=captioned, number=number if captioned else None)
                cy += fh + 6
                if captioned:
                    c.setFont(font, 8.5)
                    cap = f"Figure {number}. " + sentence(rng, rng.randint(5, 10))
                    cap = cap[: int(col_w / 4.3)]
                    c.drawString(x, ph - cy - 9, cap)
                    box("figure_caption", x, cy, x + c.stringWidth(cap, font, 8.5), cy + 11, number=number)
                    cy += 16
                cy += 8
            else:  # a table
                rows, ncol = rng.randint(3, 7), rng.randint(2, 5)
                data = [[f"H{j + 1}" for j in range(ncol)]] + [
                    [f"{rng.uniform(0, 100):.1f}" for _ in range(ncol)] for _ in range(rows - 1)]
                t = Table(data, colWidths=[min(60, col_w / ncol)] * ncol)
                t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black"),
                                       ("FONT", (0, 0), (-1, -1), font, 8)]))
                tw, th = t.wrap(col_w, ph)
                if cy + th + 30 > ph - margin:
                    break
                tab_no += 1
                captioned = rng.random() < 0.75
                if captioned:
                    c.setFont(font, 8.5)
                    cap = f"Table {tab_no}. " + sentence(rng, rng.randint(4, 8))
                    cap = cap[: int(col_w / 4.3)]
                    c.drawString(x, ph - cy - 9, cap)
                    box("table_caption", x, cy, x + c.stringWidth(cap, font, 8.5), cy + 11, number=tab_no)
                    cy += 15
                t.drawOn(c, x, ph - cy - th)
                box("table", x, cy, x + tw, cy + th, captioned=captioned)
                cy += th + 14
    c.showPage()
    c.save()
    return buf.getvalue(), (pw, ph), truth, numbering_broken


def render(pdf_bytes):
    doc = pdfium.PdfDocument(pdf_bytes)
    page = doc[0]
    img = page.render(scale=DPI / 72).to_pil().convert("RGB")
    page.close()
    doc.close()
    return img


def turned(pdf_bytes):
    """The same PDF with /Rotate 90 on its page: shown a quarter turn clockwise."""
    doc = pdfium.PdfDocument(pdf_bytes)
    doc[0].set_rotation(90)
    out = io.BytesIO()
    doc.save(out)
    doc.close()
    return out.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--pages", type=int, default=120)
    ap.add_argument("--seed", type=int, default=20261130)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    manifest = []
    for i in range(args.pages):
        rotated = rng.random() < 0.08
        scanned = not rotated and rng.random() < 0.08
        pdf, (pw, ph), truth, broken = draw_page(rng)
        name = f"{i:03d}"
        img = render(pdf)
        if rotated:
            img = img.rotate(-90, expand=True)
            pdf = turned(pdf)
        if scanned:
            # The rendering put back into a PDF as an image: what a scanner gives (no text layer).
            out = io.BytesIO()
            img.save(out, "PDF", resolution=DPI)
            pdf = out.getvalue()
        with open(os.path.join(args.out_dir, name + ".pdf"), "wb") as f:
            f.write(pdf)
        img.save(os.path.join(args.out_dir, name + ".png"), dpi=(DPI, DPI))
        k = DPI / 72
        boxes = []
        for t in truth:
            x0, y0, x1, y1 = (v * k for v in t["box"])
            if rotated:  # a quarter turn clockwise: (x, y) -> (H - y, x)
                H = ph * k
                x0, y0, x1, y1 = H - y1, x0, H - y0, x1
            boxes.append({**t, "box": [round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1)]})
        manifest.append({"page": name, "split": "heldout" if i % 4 == 3 else "tune", "width": img.width,
                         "height": img.height, "rotated": rotated, "scanned": scanned,
                         "numbering_in_order": not broken, "elements": boxes})
    with open(os.path.join(args.out_dir, "manifest.json.tmp"), "w") as f:
        json.dump({"dpi": DPI, "pages": manifest}, f, indent=1)
    os.replace(os.path.join(args.out_dir, "manifest.json.tmp"), os.path.join(args.out_dir, "manifest.json"))
    print(f"{len(manifest)} pages in {args.out_dir}")


if __name__ == "__main__":
    main()
