"""The built-in synthetic corpus: General MIDI arrangements (fluidsynth) and synthetic voices."""
