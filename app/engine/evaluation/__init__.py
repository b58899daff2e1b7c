"""How far a map can be trusted: the faithfulness scores (deletion, insertion, drop,
increase) and the audit checks (pointing game, energy pointing, ROAD, cascading
randomisation, random-logit, with Spearman and SSIM). Imports `targets` at most; the
compiled explainer in `runtime` and the audits in `app.jobs` call it."""
