// What the page draws from API answers: pure DOM builders, no state, no requests.
// Server strings become text nodes and attribute values only, never HTML.

const TOP_PREDICTIONS = 5;
const TOP_TAGS = 20;

/**
 * The photo (scaled to at most `maxSide`), then the heatmap layer scaled over it at
 * `opacity`. The layer is smaller than the photo (the service sizes it by the map), so
 * it is drawn with smoothing. Without a photo (a file the browser cannot show), the
 * layer alone at the image's size (`imageSize`, from the response).
 */
export function drawOverlay(canvas, photo, heatmap, opacity, maxSide = 1024, imageSize = null) {
  const context = canvas.getContext("2d");
  const [width, height] = photo
    ? [photo.naturalWidth, photo.naturalHeight]
    : imageSize
      ? [imageSize.width, imageSize.height]
      : heatmap
        ? [heatmap.naturalWidth, heatmap.naturalHeight]
        : [0, 0];
  if (!width || !height) return;
  const scale = Math.min(1, maxSide / Math.max(width, height));
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  if (photo) context.drawImage(photo, 0, 0, canvas.width, canvas.height);
  if (heatmap) {
    context.globalAlpha = opacity;
    context.drawImage(heatmap, 0, 0, canvas.width, canvas.height);
    context.globalAlpha = 1;
  }
}

/** The document of `weighted_spans` as text nodes, each token a coloured span. */
export function tokenNodes({ document: text, spans }) {
  const strongest = Math.max(1e-12, ...spans.map(([, , weight]) => Math.abs(weight)));
  const nodes = [];
  let at = 0;
  for (const [token, ranges, weight] of spans) {
    for (const [start, end] of ranges) {
      if (start > at) nodes.push(document.createTextNode(text.slice(at, start)));
      const span = document.createElement("span");
      span.className = "token";
      span.textContent = text.slice(start, end);
      span.title = `${token}: ${weight.toFixed(3)}`;
      span.style.backgroundColor = tokenColour(weight / strongest);
      nodes.push(span);
      at = Math.max(at, end);
    }
  }
  if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

/** Green for evidence for the class, red against; stronger is darker (as ELI5 shows it). */
function tokenColour(relative) {
  const hue = relative >= 0 ? 120 : 0;
  const lightness = 100 - 40 * Math.abs(relative) ** 0.7;
  return `hsl(${hue} 100% ${lightness}%)`;
}

/** `li` items of the top predictions (and the explained class), each a button. */
export function predictionItems(scores, labelOf, explained, onChoose) {
  const ranked = scores.map((score, index) => ({ score, index })).sort((a, b) => b.score - a.score);
  const count = Math.max(TOP_PREDICTIONS, ranked.findIndex((p) => p.index === explained) + 1);
  return ranked.slice(0, count).map(({ score, index }) =>
    choiceItem(labelOf(index), formatScore(score), index === explained, { class: String(index) }, () => onChoose(index)),
  );
}

/**
 * The two sides of a one-output (sigmoid) model, the likelier first: its class, and the
 * other one ("not <class>", 1 - score), which ELI5 explains as the counterfactual of the
 * output. `onChoose(counterfactual)` is called with the side's flag.
 */
export function binaryItems(score, label, counterfactual, onChoose) {
  const probability = score >= 0 && score <= 1;
  const sides = [
    { name: label, value: formatScore(score), other: false },
    { name: `not ${label}`, value: probability ? formatScore(1 - score) : "–", other: true },
  ];
  if (probability && score < 0.5) sides.reverse();
  return sides.map(({ name, value, other }) =>
    choiceItem(name, value, other === counterfactual, { class: "0", counterfactual: String(other) }, () => onChoose(other)),
  );
}

/**
 * A multilabel model's labels as tags, likelier first: "label 0.93", those with p >= 0.5
 * marked as predicted (`data-predicted`); `onChoose(index)` explains one.
 */
export function tagItems(scores, labelOf, explained, onChoose) {
  const ranked = scores.map((score, index) => ({ score, index })).sort((a, b) => b.score - a.score);
  const count = Math.max(TOP_TAGS, ranked.findIndex((p) => p.index === explained) + 1);
  return ranked.slice(0, count).map(({ score, index }) => {
    const predicted = score >= 0.5;
    const name = `${predicted ? "✓ " : ""}${labelOf(index)}`;
    const data = { class: String(index), predicted: String(predicted) };
    return choiceItem(name, score.toFixed(2), index === explained, data, () => onChoose(index));
  });
}

/** The legend of a class map: a swatch and the label of each class present. */
export function legendItems(classes, labelOf, colourOf) {
  return classes.map((cls) => {
    const item = document.createElement("li");
    item.dataset.class = String(cls);
    item.append(swatch(colourOf(cls)), document.createTextNode(labelOf(cls)));
    return item;
  });
}

/** A detector's boxes as buttons (the keyboard's way to what a click on a box does). */
export function detectionItems(detections, chosen, colourOf, onChoose) {
  return detections.map((detection, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.class = String(detection.class);
    button.setAttribute("aria-pressed", String(index === chosen));
    const [x0, y0, x1, y1] = detection.box.map(Math.round);
    button.title = `box [${x0}, ${y0}, ${x1}, ${y1}] in image pixels`;
    button.append(swatch(colourOf(detection.class)), document.createTextNode(`${detection.label ?? detection.class} ${detection.score.toFixed(2)}`));
    button.addEventListener("click", () => onChoose(index));
    const item = document.createElement("li");
    item.append(button);
    return item;
  });
}

function swatch(colour) {
  const mark = document.createElement("span");
  mark.className = "swatch";
  mark.style.backgroundColor = colour;
  mark.setAttribute("aria-hidden", "true");
  return mark;
}

function choiceItem(name, value, pressed, data, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  Object.assign(button.dataset, data);
  button.setAttribute("aria-pressed", String(pressed));
  const label = document.createElement("span");
  label.textContent = name;
  const score = document.createElement("span");
  score.className = "score";
  score.textContent = value;
  button.append(label, score);
  button.addEventListener("click", onClick);
  const item = document.createElement("li");
  item.append(button);
  return item;
}

export function formatScore(score) {
  return score >= 0 && score <= 1 ? `${(score * 100).toFixed(1)}%` : score.toFixed(3);
}

/** A readable message for an ApiError: title, status, detail and any Retry-After. */
export function errorMessage(error) {
  let message = error.message.replace(/\.?$/, ".");
  if (error.status) message = `${error.problem?.title || "Error"} (HTTP ${error.status}): ${message}`;
  if (error.retryAfter !== null && error.retryAfter !== undefined) {
    message += ` Try again in ${error.retryAfter} s (Retry-After).`;
  }
  return message;
}

/** Move `box` next to `control` with `message`, and tie them for assistive technology. */
export function placeError(box, control, message) {
  box.textContent = message;
  box.hidden = false;
  (control.closest(".field") || control.parentElement).append(box);
  control.setAttribute("aria-invalid", "true");
  const described = (control.getAttribute("aria-describedby") || "").split(" ");
  control.setAttribute("aria-describedby", [...described, box.id].filter(Boolean).join(" "));
}

export function removeError(box) {
  box.hidden = true;
  box.textContent = "";
  for (const control of document.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    const rest = (control.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== box.id);
    if (rest.length) control.setAttribute("aria-describedby", rest.join(" "));
    else control.removeAttribute("aria-describedby");
  }
}
