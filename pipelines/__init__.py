"""Concrete journeys. Each folder holds a journey.yaml and the stage functions it names."""
