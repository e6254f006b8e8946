"""Reading, checking and quarantining the files an import takes."""
