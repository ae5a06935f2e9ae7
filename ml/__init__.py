"""The template's library: every workflow step is a thin CLI in scripts/ over one module here."""
