//! What the detectors' raw outputs mean: the page-layout model's PicoDet head
//! decoded into labelled boxes, and the text detector's probability map into
//! text boxes (DB post-processing). Pure functions on slices: the same code
//! reads NCNN's and ONNX Runtime's outputs, and tests feed it numbers.

use serde::Serialize;

/// The layout model's classes (CDLA), in its output order.
pub const LAYOUT_CLASSES: [&str; 10] = [
    "text",
    "title",
    "figure",
    "figure_caption",
    "table",
    "table_caption",
    "header",
    "footer",
    "reference",
    "equation",
];
/// The layout model's input: width and height (a page is stretched to it).
pub const LAYOUT_INPUT: (usize, usize) = (608, 800);
/// The PicoDet head's levels.
pub const LAYOUT_STRIDES: [usize; 4] = [8, 16, 32, 64];
/// Bins per box side (reg_max + 1).
const BINS: usize = 8;
/// Boxes overlapping more than this (intersection over union) are one.
const NMS_IOU: f32 = 0.5;
/// At most this many boxes per class and page.
const KEEP_TOP: usize = 100;

/// A box on the page, in the page image's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rect {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl Rect {
    pub const fn new(x0: f32, y0: f32, x1: f32, y1: f32) -> Rect {
        Rect { x0, y0, x1, y1 }
    }
    pub fn width(&self) -> f32 {
        (self.x1 - self.x0).max(0.0)
    }
    pub fn height(&self) -> f32 {
        (self.y1 - self.y0).max(0.0)
    }
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    pub fn intersection(&self, o: &Rect) -> f32 {
        let w = (self.x1.min(o.x1) - self.x0.max(o.x0)).max(0.0);
        let h = (self.y1.min(o.y1) - self.y0.max(o.y0)).max(0.0);
        w * h
    }
    pub fn iou(&self, o: &Rect) -> f32 {
        let i = self.intersection(o);
        let u = self.area() + o.area() - i;
        if u > 0.0 {
            i / u
        } else {
            0.0
        }
    }
    /// The share of `self` that lies inside `o`.
    pub fn inside_share(&self, o: &Rect) -> f32 {
        let a = self.area();
        if a > 0.0 {
            self.intersection(o) / a
        } else {
            0.0
        }
    }
}

/// A labelled region of a page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    pub class: &'static str,
    pub score: f32,
    #[serde(flatten)]
    pub rect: Rect,
}

/// One PicoDet level's outputs: `scores` is N×10 (already sigmoid), `boxes` N×32 (4 sides × 8 bins).
pub struct Level<'a> {
    pub scores: &'a [f32],
    pub boxes: &'a [f32],
}

/// The layout model's outputs (levels in [`LAYOUT_STRIDES`] order) as labelled boxes on a page of
/// `page_w`×`page_h` pixels, keeping boxes scoring at least `min_score` per class, after non-maximum suppression.
pub fn decode_layout(
    levels: &[Level<'_>],
    page_w: u32,
    page_h: u32,
    min_score: &dyn Fn(&str) -> f32,
) -> Vec<Detection> {
    let (in_w, in_h) = LAYOUT_INPUT;
    let ncls = LAYOUT_CLASSES.len();
    let mut found: Vec<Vec<(f32, Rect)>> = vec![Vec::new(); ncls];
    for (level, stride) in levels.iter().zip(LAYOUT_STRIDES) {
        let cols = in_w.div_ceil(stride);
        let n = level.scores.len() / ncls;
        if level.boxes.len() < n * 4 * BINS {
            continue;
        }
        for i in 0..n {
            let scores = &level.scores[i * ncls..(i + 1) * ncls];
            let (cx, cy) = (
                ((i % cols) as f32 + 0.5) * stride as f32,
                ((i / cols) as f32 + 0.5) * stride as f32,
            );
            let mut dist = None;
            for (c, &s) in scores.iter().enumerate() {
                if s < min_score(LAYOUT_CLASSES[c]) {
                    continue;
                }
                let d = *dist.get_or_insert_with(|| {
                    let b = &level.boxes[i * 4 * BINS..(i + 1) * 4 * BINS];
                    [0, 1, 2, 3].map(|side| {
                        expected_bin(&b[side * BINS..(side + 1) * BINS]) * stride as f32
                    })
                });
                let r = Rect {
                    x0: (cx - d[0]).clamp(0.0, in_w as f32),
                    y0: (cy - d[1]).clamp(0.0, in_h as f32),
                    x1: (cx + d[2]).clamp(0.0, in_w as f32),
                    y1: (cy + d[3]).clamp(0.0, in_h as f32),
                };
                found[c].push((s, r));
            }
        }
    }
    let (sx, sy) = (page_w as f32 / in_w as f32, page_h as f32 / in_h as f32);
    let mut out = Vec::new();
    for (c, boxes) in found.into_iter().enumerate() {
        for (score, r) in nms(boxes, NMS_IOU, KEEP_TOP) {
            out.push(Detection {
                class: LAYOUT_CLASSES[c],
                score,
                rect: Rect {
                    x0: r.x0 * sx,
                    y0: r.y0 * sy,
                    x1: r.x1 * sx,
                    y1: r.y1 * sy,
                },
            });
        }
    }
    out.sort_by(|a, b| {
        a.rect
            .y0
            .total_cmp(&b.rect.y0)
            .then(a.rect.x0.total_cmp(&b.rect.x0))
    });
    out
}

/// The expected bin of a softmax over `logits` (a side's distance in strides).
fn expected_bin(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut weighted) = (0.0f32, 0.0f32);
    for (i, &l) in logits.iter().enumerate() {
        let e = (l - max).exp();
        sum += e;
        weighted += e * i as f32;
    }
    if sum > 0.0 {
        weighted / sum
    } else {
        0.0
    }
}

/// Hard non-maximum suppression: the best box, then every box not overlapping a kept one by more than `iou`.
pub fn nms(mut boxes: Vec<(f32, Rect)>, iou: f32, keep: usize) -> Vec<(f32, Rect)> {
    boxes.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut kept: Vec<(f32, Rect)> = Vec::new();
    for (s, r) in boxes {
        if kept.len() >= keep {
            break;
        }
        if kept.iter().all(|(_, k)| k.iou(&r) <= iou) {
            kept.push((s, r));
        }
    }
    kept
}

/// DB post-processing of the text detector's probability map (`w`×`h`, values 0..1): pixels above 0.3 grouped into
/// connected regions, each kept when its mean probability reaches 0.5, grown by the DB unclip ratio (1.6) and scaled
/// from the map's size to the page's `page_w`×`page_h`.
pub fn decode_text(prob: &[f32], w: usize, h: usize, page_w: u32, page_h: u32) -> Vec<Rect> {
    const THRESH: f32 = 0.3;
    const BOX_THRESH: f32 = 0.5;
    const UNCLIP: f32 = 1.6;
    const MIN_SIDE: f32 = 3.0;
    if prob.len() < w * h || w == 0 || h == 0 {
        return Vec::new();
    }
    let mut label = vec![0u32; w * h];
    let mut next = 0u32;
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let (sx, sy) = (page_w as f32 / w as f32, page_h as f32 / h as f32);
    for start in 0..w * h {
        if label[start] != 0 || prob[start] <= THRESH {
            continue;
        }
        next += 1;
        label[start] = next;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0usize, 0usize);
        let (mut sum, mut count) = (0.0f64, 0usize);
        while let Some(p) = stack.pop() {
            let (x, y) = (p % w, p / w);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
            sum += f64::from(prob[p]);
            count += 1;
            let neighbours = [
                (x > 0).then(|| p - 1),
                (x + 1 < w).then(|| p + 1),
                (y > 0).then(|| p - w),
                (y + 1 < h).then(|| p + w),
            ];
            for q in neighbours.into_iter().flatten() {
                if label[q] == 0 && prob[q] > THRESH {
                    label[q] = next;
                    stack.push(q);
                }
            }
        }
        let (bw, bh) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
        if bw.min(bh) < MIN_SIDE || (sum / count as f64) < f64::from(BOX_THRESH) {
            continue;
        }
        let d = bw * bh * UNCLIP / (2.0 * (bw + bh));
        out.push(Rect {
            x0: ((x0 as f32 - d).max(0.0)) * sx,
            y0: ((y0 as f32 - d).max(0.0)) * sy,
            x1: ((x1 as f32 + 1.0 + d).min(w as f32)) * sx,
            y1: ((y1 as f32 + 1.0 + d).min(h as f32)) * sy,
        });
    }
    out
}

/// The text detector's shortest input side (PP-OCRv4's `limit_side_len`): smaller images are enlarged to it.
pub const TEXT_MIN_SIDE: u32 = 736;

/// The text detector's input size for a `w`×`h` page: the short side at least [`TEXT_MIN_SIDE`], both sides
/// multiples of 32, and at most `max_side` on the long side.
pub fn text_input_size(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let (w, h) = (w.max(1) as f32, h.max(1) as f32);
    let mut scale = 1.0f32;
    if w.min(h) < TEXT_MIN_SIDE as f32 {
        scale = TEXT_MIN_SIDE as f32 / w.min(h);
    }
    if w.max(h) * scale > max_side as f32 {
        scale = max_side as f32 / w.max(h);
    }
    let round = |v: f32| (((v * scale) / 32.0).round().max(1.0) as u32) * 32;
    (round(w), round(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_boxes_of_one_class_become_the_best_one() {
        let kept = nms(
            vec![
                (0.6, Rect::new(0.0, 0.0, 10.0, 10.0)),
                (0.9, Rect::new(1.0, 1.0, 11.0, 11.0)),
                (0.8, Rect::new(50.0, 50.0, 60.0, 60.0)),
            ],
            0.5,
            10,
        );
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].0, 0.9);
        assert_eq!(kept[1].0, 0.8);
    }

    #[test]
    fn a_confident_anchor_decodes_to_its_box_scaled_to_the_page() {
        // One anchor on the stride-8 level at column 10, row 20: centre (84, 164). Each side's bins put all weight
        // on bin 2 (left, top) or 4 (right, bottom): 16 px left/up, 32 px right/down.
        let (cols, rows) = (LAYOUT_INPUT.0.div_ceil(8), LAYOUT_INPUT.1.div_ceil(8));
        let n = cols * rows;
        let mut scores = vec![0.0f32; n * 10];
        let mut boxes = vec![-20.0f32; n * 32];
        let i = 20 * cols + 10;
        scores[i * 10 + 2] = 0.9; // figure
        for (side, bin) in [(0, 2), (1, 2), (2, 4), (3, 4)] {
            boxes[i * 32 + side * 8 + bin] = 20.0;
        }
        let empty = (Vec::new(), Vec::new());
        let levels = [
            Level {
                scores: &scores,
                boxes: &boxes,
            },
            Level {
                scores: &empty.0,
                boxes: &empty.1,
            },
        ];
        // The page is twice the model's input.
        let d = decode_layout(&levels, 1216, 1600, &|_| 0.5);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].class, "figure");
        let r = d[0].rect;
        for (got, want) in [(r.x0, 136.0), (r.y0, 296.0), (r.x1, 232.0), (r.y1, 392.0)] {
            assert!((got - want).abs() < 0.01, "{r:?}");
        }
        assert!(decode_layout(&levels, 1216, 1600, &|_| 0.95).is_empty());
    }

    #[test]
    fn text_regions_in_a_probability_map_become_boxes_and_weak_ones_are_dropped() {
        let (w, h) = (64, 32);
        let mut prob = vec![0.0f32; w * h];
        for y in 10..16 {
            for x in 5..40 {
                prob[y * w + x] = 0.9; // a line of text
            }
            for x in 45..60 {
                prob[y * w + x] = 0.35; // above the pixel threshold, below the box threshold
            }
        }
        let boxes = decode_text(&prob, w, h, 128, 64);
        assert_eq!(boxes.len(), 1, "{boxes:?}");
        let b = boxes[0];
        assert!(
            b.x0 < 10.0 && b.x1 > 80.0 && b.y0 < 20.0 && b.y1 > 32.0,
            "{b:?}"
        );
        assert!(
            decode_text(&prob[..10], w, h, 1, 1).is_empty(),
            "a short map is no map"
        );
    }

    #[test]
    fn the_text_detector_gets_a_multiple_of_32_at_least_736_on_the_short_side() {
        assert_eq!(text_input_size(1240, 1754, 2048), (1248, 1760));
        assert_eq!(text_input_size(300, 200, 2048), (1120, 736));
        let (w, h) = text_input_size(5000, 8000, 2048);
        assert!(w % 32 == 0 && h <= 2048, "{w}x{h}");
    }
}
