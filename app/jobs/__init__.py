"""Long work beside the request path: a bounded job manager, the audit (sanity checks over
a labelled set) and its HTML report. Imports explain, engine, registry, render, settings
and errors; the API imports it, never the other way round."""
