"""featurekit."""
