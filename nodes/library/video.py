"""Moving pictures generated on the GPU: a still brought to life, or a clip from a prompt."""
