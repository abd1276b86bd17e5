"""The flow generator that ships with tenfold (safetensors) and the recipe that trained it."""
