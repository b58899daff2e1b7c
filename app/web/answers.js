// What an answer says beyond a classifier's class: the head of the output explained, a
// segmenter's class map and the region its map explains, a detector's boxes and the one
// its map explains; and a caption that names that region, box or label. No DOM, no state.

import { classCells } from "./regions.js";
import { formatScore } from "./view.js";

/**
 * `{head, segmentation, detections, region, chosen, clicked}` of an explain answer:
 * `region` the cells the map explains (`pick.cells` clicked, else the class's predicted
 * cells), `chosen` the index of the detection whose box it explains (-1: none),
 * `clicked` whether a region or box was picked for this answer. `outputs`: the model
 * detail's list of outputs and heads.
 */
export function headAnswer(result, pick, outputs = []) {
  const explanation = result.explanations[0];
  const target = explanation.targets[0];
  const head = (outputs.find((o) => o.name === result.output) || outputs[0])?.head || "classifier";
  const segmentation = explanation.segmentation?.length ? explanation.segmentation : null;
  const detections = explanation.detections || null;
  let region = null;
  if (segmentation && target.kind === "region") region = pick?.cells || classCells(segmentation, target.target);
  const chosen = detections && target.box ? closestBox(detections, target.box) : -1;
  return { head, segmentation, detections, region, chosen, clicked: Boolean(pick) };
}

/** The detection whose box is `box` (the answer's explained box is one of them), or -1. */
function closestBox(detections, box) {
  const distance = (d) => d.box.reduce((sum, value, i) => sum + Math.abs(value - box[i]), 0);
  const best = detections.reduce((b, d, i) => (distance(d) < distance(detections[b]) ? i : b), 0);
  return detections.length && distance(detections[best]) < 1 ? best : -1;
}

/** What the map explains when it is a region, a box or a label; null for a class. */
export function headCaption(target, found, labelOf) {
  const label = labelOf(target.target);
  if (target.kind === "region" && found?.segmentation) {
    const map = found.segmentation;
    const which = found.clicked ? `the ${label} under the click` : `every cell predicted as ${label}`;
    const cells = target.region_pixels;
    const mean = cells ? `, mean probability ${formatScore(target.score / cells)}` : "";
    return `Region: ${which} (${cells} of the ${map[0].length}×${map.length} map's cells${mean})`;
  }
  if (target.kind === "box" && target.box) {
    const box = target.box.map(Math.round).join(", ");
    const iou = found?.clicked ? `, IoU ${target.iou.toFixed(2)} with the box chosen` : "";
    return `Box: ${label} at [${box}] (score ${formatScore(target.score)}${iou})`;
  }
  if (found?.head === "multilabel") return `Label ${label} (p ${target.score.toFixed(3)})`;
  return null;
}
