"""Runtime errors that name the op, its inputs' shapes and dtypes, and the user's line."""
from symgraph.graph.basic import format_trace


def describe_node(node, values):
    shapes, dtypes = [], []
    for v in values:
        shapes.append(getattr(v, "shape", "no shape") if v is not None else "not computed")
        dtypes.append(str(getattr(v, "dtype", type(v).__name__)))
    trace = None
    for out in node.outputs:
        trace = out.tag.get("trace")
        if trace:
            break
    return (f"\nApply node that caused the error: {node}"
            f"\nInputs shapes: {shapes}"
            f"\nInputs dtypes: {dtypes}"
            f"\nNode built at: {format_trace(trace)}")


def raise_with_node_info(exc, node, values):
    """Re-raise ``exc`` (same type where possible) with the node's details appended."""
    message = f"{exc}{describe_node(node, values)}"
    try:
        new = type(exc)(message)
    except Exception:
        new = RuntimeError(message)
    new.node = node
    raise new.with_traceback(exc.__traceback__) from exc
