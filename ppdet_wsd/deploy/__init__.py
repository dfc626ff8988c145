"""Export for the factory PC and the predictor that runs the export."""
