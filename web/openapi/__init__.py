"""The OpenAPI document's helpers: the Blueprint and Api subclasses, and the error answers' examples."""
