"""The catalog: outcomes, metrics, benefits and the tier ladder."""
