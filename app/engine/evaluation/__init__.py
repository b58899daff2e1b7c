"""How faithful a map is to the model: deletion, insertion, drop and increase. Imports
`targets` at most; the compiled explainer in `runtime` calls it."""
