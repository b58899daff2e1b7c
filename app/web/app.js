// The page: a form over the public API (see api.js), drawing what the API returns.
// Server strings reach the page only through textContent and attribute values, never as HTML.
import { ApiClient, ApiError } from "./api.js";
import { headAnswer, headCaption } from "./answers.js";
import { boxAt, drawMarks, imagePoint, labelColour, segmentColour } from "./marks.js";
import { BACKGROUND, cellAt, componentAt, maskPng, presentClasses } from "./regions.js";
import {
  binaryItems, detectionItems, drawOverlay, errorMessage, formatScore, legendItems, placeError, predictionItems,
  removeError, tagItems, tokenNodes,
} from "./view.js";

const PREFERRED_MODEL = "efficientnet_lite0";
const PREDICTIONS_HINTS = {
  classifier: "Choose a class to explain it.",
  multilabel: "Labels with p ≥ 0.5 are predicted (✓). Choose a label to explain it.",
  segmentation: "Choose a class to explain every cell predicted as it.",
  detection: "Choose a class to explain its best box.",
};
const MAX_CANVAS_SIDE = 1024;

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("explain-form"), model: $("model"), description: $("model-description"),
  verdicts: $("model-verdicts"),
  imageField: $("image-field"), file: $("file"), dropZone: $("drop-zone"),
  textField: $("text-field"), text: $("text"), example: $("example"),
  layer: $("layer"), methodField: $("method-field"), method: $("method"),
  colormap: $("colormap"), apiKey: $("api-key"), explain: $("explain"), status: $("form-status"),
  error: $("error"), caption: $("result-caption"),
  imageResult: $("image-result"), canvas: $("overlay"), opacity: $("opacity"),
  opacityValue: $("opacity-value"), tokens: $("tokens"), details: $("result-details"), elapsed: $("elapsed"),
  predictions: $("predictions"), copyCurl: $("copy-curl"), curlCommand: $("curl-command"),
  predictionsHeading: $("predictions-heading"), predictionsHint: $("predictions-hint"),
  marks: $("marks"), pickHint: $("pick-hint"), legend: $("legend"), marksField: $("marks-field"),
  showMarks: $("show-marks"),
};

const state = {
  model: null, // GET /v1/models/{id}
  chosen: null, // HTMLImageElement of the chosen file (null: the browser cannot show it)
  photo: null, // the image of the explanation shown
  heatmap: null, // HTMLImageElement of the overlay layer
  imageSize: null, // {width, height} of the explained image, from the response
  target: null, // class index, or a target object (a region's mask, a box); null: the default
  pick: null, // the region ({cells}) or box ({index}) clicked for `target`
  found: null, // {head, segmentation, detections, region, chosen} of the explanation shown
  counterfactual: false, // one-output models: explain the other side ("not <class>")
  sideChosen: false, // one-output models: the user chose a side (else the likelier one)
  request: 0, // sequence number: only the latest answer is shown
  shown: null, // {modelId, fields} of the explanation shown, for "copy as curl"
};

const api = () => new ApiClient("", ui.apiKey.value.trim());

// ---- models ---------------------------------------------------------------------------

async function loadModels() {
  try {
    const { models } = await api().listModels();
    models.sort((a, b) => (b.id === PREFERRED_MODEL) - (a.id === PREFERRED_MODEL));
    ui.model.replaceChildren(...models.map((m) => new Option(`${m.id} (${m.task})`, m.id)));
    const saved = saved_("model");
    if (models.some((m) => m.id === saved)) ui.model.value = saved;
    if (models.length) await selectModel(ui.model.value);
    else showError(new ApiError(0, { detail: "the service serves no models" }), ui.model);
  } catch (error) {
    showError(error, ui.model);
  }
}

async function selectModel(modelId) {
  clearError();
  let model;
  try {
    model = await api().getModel(modelId);
  } catch (error) {
    if (ui.model.value === modelId) {
      state.model = null;
      clearResult();
      showError(error, ui.model);
    }
    return;
  }
  if (ui.model.value !== modelId) return; // another model was chosen meanwhile
  state.model = model;
  ui.description.textContent = model.description;
  showVerdicts(model.randomization || {});
  const isImage = model.task === "image";
  ui.imageField.hidden = !isImage;
  ui.colormap.closest(".field").hidden = !isImage;
  ui.textField.hidden = isImage;
  ui.example.hidden = !exampleText(model); // the card's [text] example, if it has one
  const layers = model.candidate_layers.map((l) => new Option(l.name, l.name));
  ui.layer.replaceChildren(new Option(`automatic (${model.default_layer})`, ""), ...layers);
  const methods = (model.methods || []).map((m) => (typeof m === "string" ? m : m.name || m.id));
  ui.methodField.hidden = methods.length === 0;
  ui.method.replaceChildren(...methods.map((m) => new Option(m, m)));
  restore(ui.layer, `layer.${model.id}`);
  restore(ui.method, `method.${model.id}`);
  resetChoice();
  clearResult();
  if (hasInput()) await explain();
}

// The last randomisation verdict of each method for this version (an audit job's), with
// a link to that audit's report while the service keeps it.
function showVerdicts(verdicts) {
  const entries = Object.entries(verdicts);
  ui.verdicts.hidden = entries.length === 0;
  const parts = [document.createTextNode("Randomisation test: ")];
  entries.forEach(([method, verdict], index) => {
    if (index > 0) parts.push(document.createTextNode("; "));
    const word = verdict.passed ? "passed" : "failed";
    const rho = verdict.final_spearman == null ? "" : ` (final ρ ${verdict.final_spearman.toFixed(2)})`;
    parts.push(document.createTextNode(`${method} ${word}${rho}, `));
    const link = document.createElement("a");
    link.href = `/v1/jobs/${encodeURIComponent(verdict.job)}/report`;
    link.textContent = "report";
    parts.push(link);
  });
  ui.verdicts.replaceChildren(...parts);
}

// ---- form state survives a reload (this tab only; the file cannot be kept) -----------

function saved_(name) {
  return sessionStorage.getItem(`gradcam.${name}`);
}

function save() {
  const values = { model: ui.model.value, text: ui.text.value, colormap: ui.colormap.value };
  // Layers and methods belong to a model: kept per model, once its options are shown.
  if (state.model?.id === ui.model.value) {
    values[`layer.${state.model.id}`] = ui.layer.value;
    values[`method.${state.model.id}`] = ui.method.value;
  }
  for (const [name, value] of Object.entries(values)) sessionStorage.setItem(`gradcam.${name}`, value);
}

/** The saved value back into a select, if it is still one of its options. */
function restore(control, name) {
  const value = saved_(name);
  if (value !== null && [...control.options].some((option) => option.value === value)) control.value = value;
}

// ---- input ----------------------------------------------------------------------------

function exampleText(model) {
  const example = model?.card?.text?.example;
  return typeof example === "string" ? example : "";
}

function hasInput() {
  if (!state.model) return false;
  return state.model.task === "image" ? ui.file.files.length > 0 : ui.text.value.trim() !== "";
}

async function useFiles(files) {
  const file = files[0];
  if (!file) return;
  if (ui.file.files[0] !== file) {
    const transfer = new DataTransfer(); // keep the form's file input the source of truth
    transfer.items.add(file);
    ui.file.files = transfer.files;
  }
  resetChoice();
  state.chosen = await loadImage(URL.createObjectURL(file)).catch(() => null);
  await explain();
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("not an image the browser can show"));
    image.src = url;
  });
}

function requestFields() {
  const model = state.model;
  const fields = { layer: ui.layer.value };
  if (!ui.methodField.hidden) fields.method = ui.method.value;
  if (typeof state.target === "number") fields.targets = String(state.target);
  else if (state.target !== null) fields.targets = JSON.stringify([state.target]); // a region or a box
  if (state.counterfactual) fields.counterfactual = "true";
  if (model.task === "image") {
    Object.assign(fields, { image: ui.file.files[0], overlay: "layer", colormap: ui.colormap.value });
  } else {
    fields.text = ui.text.value;
  }
  return fields;
}

// ---- explain --------------------------------------------------------------------------

async function explain() {
  if (!state.model) return;
  if (!hasInput()) {
    const control = state.model.task === "image" ? ui.file : ui.text;
    showError(new ApiError(0, { detail: state.model.task === "image" ? "choose an image first" : "type some text first" }), control);
    return;
  }
  const sequence = ++state.request;
  const modelId = state.model.id;
  const fields = requestFields();
  const pick = state.pick;
  setBusy(true);
  const started = performance.now();
  try {
    const result = await api().explain(modelId, fields);
    if (sequence !== state.request) return;
    if (leansToTheOtherSide(result)) {
      state.counterfactual = true; // a one-output model below 0.5: explain "not <class>"
      return await explain();
    }
    const heatmap = await overlayImage(result);
    if (sequence !== state.request) return;
    clearError();
    state.photo = state.chosen;
    state.heatmap = heatmap;
    state.imageSize = result.explanations[0].image;
    state.shown = { modelId, fields };
    state.found = headAnswer(result, pick, state.model.outputs);
    showResult(result, performance.now() - started);
  } catch (error) {
    if (sequence === state.request) showError(error, controlFor(error));
  } finally {
    if (sequence === state.request) setBusy(false);
  }
}

async function overlayImage(result) {
  const url = result.explanations[0].targets[0].overlay;
  return url ? loadImage(url) : null;
}

/** A one-output model, no side chosen, and its score says the other class is likelier. */
function leansToTheOtherSide(result) {
  const scores = result.predictions[0];
  return scores.length === 1 && !state.sideChosen && !state.counterfactual && scores[0] >= 0 && scores[0] < 0.5;
}

function resetChoice() {
  state.target = null;
  state.pick = null;
  state.counterfactual = false;
  state.sideChosen = false;
}

function setBusy(busy) {
  ui.explain.setAttribute("aria-busy", String(busy));
  ui.status.textContent = busy ? "Explaining…" : "";
}

// ---- result ---------------------------------------------------------------------------

function clearResult() {
  state.shown = null;
  state.heatmap = null;
  state.imageSize = null;
  state.found = null;
  ui.imageResult.hidden = true;
  ui.tokens.hidden = true;
  ui.details.hidden = true;
  ui.predictions.replaceChildren();
  ui.caption.textContent = "No explanation yet.";
  ui.elapsed.textContent = "–";
  ui.copyCurl.disabled = true;
  ui.curlCommand.value = "";
}

function showResult(result, elapsedMs) {
  const explanation = result.explanations[0];
  const target = explanation.targets[0];
  const method = result.method ? `${result.method}, ` : "";
  const caption = headCaption(target, state.found, labelOf) || classCaption(result, target);
  ui.caption.textContent = `${caption}, ${method}layer ${result.layer}.`;
  ui.elapsed.textContent = `${Math.round(elapsedMs)} ms`;
  ui.canvas.dataset.target = String(target.target);
  ui.canvas.dataset.kind = target.kind || "class";
  const isImage = state.model.task === "image";
  ui.imageResult.hidden = !isImage;
  ui.tokens.hidden = isImage;
  ui.details.hidden = false;
  if (isImage) redraw();
  else ui.tokens.replaceChildren(...tokenNodes(target.weighted_spans));
  const chooseClass = (index) => {
    state.target = index;
    state.pick = null;
    explain();
  };
  const chooseSide = (counterfactual) => {
    state.counterfactual = counterfactual;
    state.sideChosen = true;
    explain();
  };
  const scores = result.predictions[0];
  const multilabel = state.found.head === "multilabel";
  ui.predictionsHeading.textContent = multilabel ? "Labels" : "Predictions";
  ui.predictionsHint.textContent = PREDICTIONS_HINTS[state.found.head] || PREDICTIONS_HINTS.classifier;
  ui.predictions.classList.toggle("tags", multilabel);
  ui.predictions.replaceChildren(
    ...(multilabel
      ? tagItems(scores, labelOf, target.target, chooseClass)
      : scores.length === 1
        ? binaryItems(scores[0], labelOf(0), state.counterfactual, chooseSide)
        : predictionItems(scores, labelOf, target.target, chooseClass)),
  );
  if (isImage) showFound();
  ui.copyCurl.disabled = false;
  ui.curlCommand.value = api().curl(state.shown.modelId, state.shown.fields);
}

/** The photo, then the heatmap layer over it at the chosen opacity: no request. */
function redraw() {
  const opacity = Number(ui.opacity.value);
  drawOverlay(ui.canvas, state.photo, state.heatmap, opacity, MAX_CANVAS_SIDE, state.imageSize);
}

/** What the model found (class map or boxes) and how to pick from it; hidden for other heads. */
function showFound() {
  const { segmentation, detections, chosen } = state.found;
  const pickable = Boolean(segmentation || detections);
  ui.marksField.hidden = !pickable;
  ui.legend.hidden = !pickable;
  ui.pickHint.hidden = !pickable;
  ui.canvas.classList.toggle("pickable", pickable);
  ui.pickHint.textContent = segmentation
    ? "Click a coloured region of the image to explain that region (one object)."
    : "Click a box to explain it.";
  if (segmentation) ui.legend.replaceChildren(...legendItems(presentClasses(segmentation), labelOf, segmentColour));
  if (detections) ui.legend.replaceChildren(...detectionItems(detections, chosen, labelColour, chooseBox));
  redrawMarks();
}

function redrawMarks() {
  const found = state.found;
  ui.marks.hidden = !found || !(found.segmentation || found.detections) || !ui.showMarks.checked;
  if (ui.marks.hidden || ui.imageResult.hidden) return;
  drawMarks(ui.marks, ui.canvas, { ...found, size: state.imageSize, labelOf });
}

async function pickAt(event) {
  const found = state.found;
  const point = found && state.imageSize ? imagePoint(ui.canvas, event, state.imageSize) : null;
  if (!point) return;
  if (found.segmentation) await chooseRegion(found.segmentation, point);
  else if (found.detections) {
    const index = boxAt(found.detections, point);
    if (index < 0) ui.pickHint.textContent = "No box there: click inside a box to explain it.";
    else chooseBox(index);
  }
}

/** The object under the click (its connected cells of one class) as a mask target. */
async function chooseRegion(map, point) {
  const { row, col } = cellAt(map, point, state.imageSize);
  const cls = map[row][col];
  if (cls === BACKGROUND) {
    ui.pickHint.textContent = `That is ${labelOf(BACKGROUND)}: nothing to explain there. Click a coloured region.`;
    return;
  }
  const cells = componentAt(map, row, col);
  const b64 = await maskPng(cells, map.length, map[0].length, state.imageSize);
  state.target = { class: cls, mask: { b64 } };
  state.pick = { cells };
  explain();
}

function chooseBox(index) {
  const detection = state.found.detections[index];
  state.target = { class: detection.class, box: detection.box };
  state.pick = { index };
  explain();
}

/** "Class x (score s)"; for the other side of a one-output model, what it explains. */
function classCaption(result, target) {
  const label = labelOf(target.target);
  if (result.predictions[0].length === 1 && state.counterfactual) {
    const score = target.score >= 0 && target.score <= 1 ? `score ${formatScore(1 - target.score)}, ` : "";
    return `Class not ${label} (${score}what lowers the score of ${label}: counterfactual)`;
  }
  return `Class ${label} (score ${formatScore(target.score)})`;
}

function labelOf(index) {
  return state.model.labels[index] ?? `class ${index}`;
}

// ---- errors: a readable message next to the control that caused it ---------------------

function controlFor(error) {
  const problem = error.problem || {};
  const fields = (problem.errors || []).map((e) => e.field).join(" ");
  const detail = `${fields} ${problem.detail || ""}`.toLowerCase();
  if (error.status === 0 || error.status >= 500 || error.status === 429 || error.status === 408) return ui.explain;
  if (error.status === 401) return ui.apiKey;
  if (error.status === 404) return ui.model;
  if (/\blayer\b/.test(detail)) return ui.layer;
  if (detail.includes("colormap")) return ui.colormap;
  if (detail.includes("method")) return ui.method;
  if (detail.includes("target")) return ui.predictions;
  if (state.model?.task === "text") return ui.text;
  return state.model?.task === "image" ? ui.file : ui.explain;
}

function showError(error, control) {
  removeError(ui.error);
  placeError(ui.error, control, errorMessage(error));
}

function clearError() {
  removeError(ui.error);
}

// ---- wiring ---------------------------------------------------------------------------

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  explain();
});
ui.model.addEventListener("change", () => selectModel(ui.model.value));
ui.file.addEventListener("change", () => useFiles(ui.file.files));
for (const control of [ui.layer, ui.method, ui.colormap]) {
  control.addEventListener("change", () => hasInput() && explain());
}
ui.text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    resetChoice();
    explain();
  }
});
ui.text.addEventListener("input", resetChoice);
ui.example.addEventListener("click", () => {
  ui.text.value = exampleText(state.model);
  resetChoice();
  save();
  explain();
});
ui.canvas.addEventListener("click", pickAt);
ui.showMarks.addEventListener("change", redrawMarks);
new ResizeObserver(redrawMarks).observe(ui.canvas);
ui.opacity.addEventListener("input", () => {
  ui.opacityValue.textContent = `${Math.round(Number(ui.opacity.value) * 100)}%`;
  redraw();
});
ui.dropZone.addEventListener("dragover", (event) => {
  event.preventDefault();
  ui.dropZone.classList.add("dragging");
});
ui.dropZone.addEventListener("dragleave", () => ui.dropZone.classList.remove("dragging"));
ui.dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  ui.dropZone.classList.remove("dragging");
  useFiles(event.dataTransfer.files);
});
document.addEventListener("paste", (event) => {
  const images = [...event.clipboardData.files].filter((file) => file.type.startsWith("image/"));
  if (images.length && state.model?.task === "image") {
    event.preventDefault();
    useFiles(images);
  }
});
ui.copyCurl.addEventListener("click", async () => {
  ui.curlCommand.select();
  try {
    await navigator.clipboard.writeText(ui.curlCommand.value);
    ui.status.textContent = "Copied the curl command.";
  } catch {
    ui.status.textContent = "Select the command below and copy it (the clipboard is not available).";
  }
});

ui.form.addEventListener("change", save);
ui.text.addEventListener("input", save);
ui.text.value = saved_("text") ?? "";
restore(ui.colormap, "colormap");
loadModels();
