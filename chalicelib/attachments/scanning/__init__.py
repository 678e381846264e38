"""The scan-on-put pipeline: engine, definitions, sniffing, verdicts."""
