"""Models: the R1 catalog, the Hub client, resumable verified downloads, the local model
store and discovery of models other apps downloaded, and the Hub token (keyring)."""
