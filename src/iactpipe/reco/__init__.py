"""Model training and application: energy, gamma/hadron and direction (disp) models."""
