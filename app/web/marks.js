// What a segmentation or detection model found, drawn on a canvas laid over the image:
// the class map in colours (background clear), or the boxes with label and score; the
// region or box the map explains outlined. Drawn at screen resolution, so edges and text
// stay sharp however small the image is.

import { BACKGROUND, classCells, presentClasses } from "./regions.js";

// Colour-blind-safe-ish, distinct on photos; class k of a detector (k + 1 of a segmenter,
// whose class 0 is the background) takes PALETTE[k], so a label keeps its colour.
const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45"];
const FILL_ALPHA = 0.45;
const CHOSEN = "#ffd400";

export function labelColour(index) {
  return PALETTE[((index % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

export function segmentColour(cls) {
  return labelColour(cls - 1);
}

/** Where the image is drawn inside `canvas`'s content box (CSS px; object-fit: contain). */
export function imageRect(canvas) {
  const boxWidth = canvas.clientWidth;
  const boxHeight = canvas.clientHeight;
  const scale = Math.min(boxWidth / canvas.width, boxHeight / canvas.height);
  const width = canvas.width * scale;
  const height = canvas.height * scale;
  return { left: canvas.clientLeft + (boxWidth - width) / 2, top: canvas.clientTop + (boxHeight - height) / 2, width, height };
}

/** The image point (natural pixels) under a pointer event on `canvas`, or null outside it. */
export function imagePoint(canvas, event, size) {
  const bounds = canvas.getBoundingClientRect();
  const rect = imageRect(canvas);
  const u = (event.clientX - bounds.left - rect.left) / rect.width;
  const v = (event.clientY - bounds.top - rect.top) / rect.height;
  if (u < 0 || u >= 1 || v < 0 || v >= 1) return null;
  return { x: u * size.width, y: v * size.height };
}

/** Index of the smallest detection whose box holds `point` (natural pixels), or -1. */
export function boxAt(detections, point) {
  let found = -1;
  let smallest = Infinity;
  detections.forEach(({ box: [x0, y0, x1, y1] }, index) => {
    const area = (x1 - x0) * (y1 - y0);
    if (point.x >= x0 && point.x <= x1 && point.y >= y0 && point.y <= y1 && area < smallest) {
      found = index;
      smallest = area;
    }
  });
  return found;
}

/**
 * Size `marks` to `overlay`'s box and draw on it: `segmentation` (class map) with the
 * `region` cells outlined, or `detections` with the `chosen` index highlighted.
 */
export function drawMarks(marks, overlay, { segmentation, region, detections, chosen, size, labelOf }) {
  const ratio = window.devicePixelRatio || 1;
  marks.width = Math.round(overlay.offsetWidth * ratio);
  marks.height = Math.round(overlay.offsetHeight * ratio);
  const context = marks.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  const rect = imageRect(overlay);
  if (segmentation) {
    const [rows, cols] = [segmentation.length, segmentation[0].length];
    drawClassMap(context, segmentation, region, rect);
    // A tint alone takes the shape's own colour under it (a green tint on a purple
    // square reads grey): each class's edge in its legend colour, unmixed.
    for (const cls of presentClasses(segmentation)) {
      outlineCells(context, classCells(segmentation, cls), rows, cols, rect, segmentColour(cls));
    }
    if (region) outlineCells(context, region, rows, cols, rect, CHOSEN);
  }
  if (detections && size) {
    const toScreen = ([x0, y0, x1, y1]) => [
      rect.left + (x0 / size.width) * rect.width, rect.top + (y0 / size.height) * rect.height,
      rect.left + (x1 / size.width) * rect.width, rect.top + (y1 / size.height) * rect.height,
    ];
    detections.forEach((d, i) => i !== chosen && drawBox(context, toScreen(d.box), d, labelOf, false));
    if (detections[chosen]) drawBox(context, toScreen(detections[chosen].box), detections[chosen], labelOf, true);
  }
}

/** Each class its colour, background clear, one cell a block (nearest neighbour). The
 * region explained stays clear too: its heatmap is what there is to see. */
function drawClassMap(context, map, region, rect) {
  const rows = map.length;
  const cols = map[0].length;
  const grid = new OffscreenCanvas(cols, rows);
  const cells = grid.getContext("2d");
  map.forEach((line, r) => line.forEach((cls, c) => {
    if (cls === BACKGROUND || region?.[r * line.length + c]) return;
    cells.fillStyle = segmentColour(cls);
    cells.fillRect(c, r, 1, 1);
  }));
  context.save();
  context.imageSmoothingEnabled = false;
  context.globalAlpha = FILL_ALPHA;
  context.drawImage(grid, rect.left, rect.top, rect.width, rect.height);
  context.restore();
}

/** The edges between `cells` and the cells outside them, in `colour` on a dark line. */
function outlineCells(context, cells, rows, cols, rect, colour) {
  const w = rect.width / cols;
  const h = rect.height / rows;
  const inside = (r, c) => r >= 0 && r < rows && c >= 0 && c < cols && cells[r * cols + c] === 1;
  const path = new Path2D();
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (!inside(r, c)) continue;
      const x = rect.left + c * w;
      const y = rect.top + r * h;
      if (!inside(r - 1, c)) { path.moveTo(x, y); path.lineTo(x + w, y); }
      if (!inside(r + 1, c)) { path.moveTo(x, y + h); path.lineTo(x + w, y + h); }
      if (!inside(r, c - 1)) { path.moveTo(x, y); path.lineTo(x, y + h); }
      if (!inside(r, c + 1)) { path.moveTo(x + w, y); path.lineTo(x + w, y + h); }
    }
  }
  context.lineCap = "round";
  context.strokeStyle = "#000";
  context.lineWidth = 4;
  context.stroke(path);
  context.strokeStyle = colour;
  context.lineWidth = 2;
  context.stroke(path);
}

function drawBox(context, [x0, y0, x1, y1], detection, labelOf, chosen) {
  const colour = chosen ? CHOSEN : labelColour(detection.class);
  context.lineWidth = chosen ? 4 : 2;
  if (chosen) {
    context.strokeStyle = "#000";
    context.lineWidth = 6;
    context.strokeRect(x0, y0, x1 - x0, y1 - y0);
    context.lineWidth = 3;
  }
  context.strokeStyle = colour;
  context.strokeRect(x0, y0, x1 - x0, y1 - y0);
  const text = `${detection.label ?? labelOf(detection.class)} ${detection.score.toFixed(2)}`;
  context.font = "600 13px system-ui, sans-serif";
  const width = context.measureText(text).width + 8;
  const top = y0 >= 18 ? y0 - 18 : y0; // above the box, or inside it at the image's top edge
  context.fillStyle = colour;
  context.fillRect(x0, top, width, 18);
  context.fillStyle = chosen ? "#000" : "#fff";
  context.fillText(text, x0 + 4, top + 13);
}
