"""Generated documents: each module measures into a JSON file under build/ and renders one
document's marked section from that file alone (``python -m pymodel.reports.<module>``)."""
