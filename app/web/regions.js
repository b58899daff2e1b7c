// A segmentation answer's class map (rows of class indices at the output's grid): the
// classes present, the region under a click, and that region as a mask PNG for the API.

export const BACKGROUND = 0; // class 0 is the background by convention (docs/targets.md)

/** The classes the map holds, background left out, in index order. */
export function presentClasses(map) {
  const found = new Set(map.flat());
  found.delete(BACKGROUND);
  return [...found].sort((a, b) => a - b);
}

/** Cells (rows * cols, 1 = in) of the class under (row, col) that touch it through
 * edges: one object, so two objects of the same class are two regions. */
export function componentAt(map, row, col) {
  const rows = map.length;
  const cols = map[0].length;
  const cls = map[row][col];
  const cells = new Uint8Array(rows * cols);
  const queue = [row * cols + col];
  cells[queue[0]] = 1;
  while (queue.length) {
    const at = queue.pop();
    const r = Math.floor(at / cols);
    const c = at % cols;
    for (const [nr, nc] of [[r - 1, c], [r + 1, c], [r, c - 1], [r, c + 1]]) {
      const next = nr * cols + nc;
      if (nr >= 0 && nr < rows && nc >= 0 && nc < cols && !cells[next] && map[nr][nc] === cls) {
        cells[next] = 1;
        queue.push(next);
      }
    }
  }
  return cells;
}

/** Cells (rows * cols, 1 = in) predicted as `cls`: what a class target explains. */
export function classCells(map, cls) {
  return Uint8Array.from(map.flat(), (value) => (value === cls ? 1 : 0));
}

/** The cell of the map under a point of the image (natural pixels, `size` {width, height}). */
export function cellAt(map, point, size) {
  const rows = map.length;
  const cols = map[0].length;
  const row = Math.min(rows - 1, Math.max(0, Math.floor((point.y * rows) / size.height)));
  const col = Math.min(cols - 1, Math.max(0, Math.floor((point.x * cols) / size.width)));
  return { row, col };
}

/**
 * `cells` as a PNG at the uploaded image's size (white inside, transparent outside),
 * base64. Each pixel takes the cell its centre falls in, so the server's nearest
 * sampling back to the grid finds exactly `cells` (for images at least the grid's size).
 */
export async function maskPng(cells, rows, cols, size) {
  const { width, height } = size;
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  const columnCell = Int32Array.from({ length: width }, (_, x) => Math.min(cols - 1, Math.floor(((x + 0.5) * cols) / width)));
  for (let y = 0; y < height; y++) {
    const rowStart = Math.min(rows - 1, Math.floor(((y + 0.5) * rows) / height)) * cols;
    for (let x = 0; x < width; x++) {
      if (cells[rowStart + columnCell[x]]) image.data.fill(255, (y * width + x) * 4, (y * width + x) * 4 + 4);
    }
  }
  context.putImageData(image, 0, 0);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  return base64(new Uint8Array(await blob.arrayBuffer()));
}

function base64(bytes) {
  let text = "";
  for (let at = 0; at < bytes.length; at += 0x8000) text += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  return btoa(text);
}
