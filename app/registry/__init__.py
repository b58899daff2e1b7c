"""Models by id: cards (`card`), the files they name (`files`), loading by format
(`formats/`), the heads a card gives the outputs (`heads`), the versioned repository on
disk (`versions/`), a model as served
(`served`), the registry with atomic version swaps (`registry`) and the folder watcher
(`watcher`). `policy` (which versions stay loaded) sits below the card that names one.
Imports the engine, preprocess and settings; nothing of the API."""
