"""How graphs run: the executor (plan, cache, lanes, events, cancel), devices and,
in later waves, the model cache, the render queue, the cloud client and the farm."""
