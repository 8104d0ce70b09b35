"""Documents attached to policies: storage of their files, checks, text extraction and comparison."""
