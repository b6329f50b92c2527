"""Array utilities: cumsum, cumprod, diff, repeat, tile, one_hot, ..."""
__all__ = []
