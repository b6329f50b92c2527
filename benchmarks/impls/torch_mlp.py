"""PyTorch peers on the CPU: eager autograd (``torch``) and ``torch.compile``.

The loss is ``cross_entropy`` (log-softmax + NLL, the same math as softmax then
-log); gradients come from autograd; the SGD update is in place under no_grad.

>>> from benchmarks.impls import Problem
>>> from benchmarks.mlp_spec import init_params, make_data
>>> X, Y = make_data(10)
>>> problem = Problem((784, 10), 10, init_params((784, 10)), X, Y, 0.01, 1)
>>> make("torch", "eager", problem).run(1)  # doctest: +SKIP
"""
from benchmarks.impls import Runner, Unavailable, cycling_loop
from benchmarks.mlp_spec import minibatches

VARIANTS = {"torch": ["eager"], "torch_compile": ["inductor"]}


def _import_torch(threads):
    try:
        import torch
    except ImportError:
        raise Unavailable("PyTorch is not installed (pip install torch)") from None
    if threads:
        torch.set_num_threads(threads)
    return torch


def _forward(torch, params, x, y):
    h = x
    for k, (W, b) in enumerate(params):
        h = torch.addmm(b, h, W)
        if k + 1 < len(params):
            h = torch.tanh(h)
    return torch.nn.functional.cross_entropy(h, y)


def make(impl, variant, problem):
    """A runner for eager PyTorch or for ``torch.compile`` of the loss (forward and backward)."""
    if variant not in VARIANTS.get(impl, ()):
        raise Unavailable(f"no variant {impl}/{variant}")
    torch = _import_torch(problem.threads)
    params = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
              for W, b in problem.params]
    flat = [v for pair in params for v in pair]
    batches = [(torch.from_numpy(x), torch.from_numpy(y).long())
               for x, y in minibatches(problem.X, problem.Y, problem.batch)]
    loss_of = lambda x, y: _forward(torch, params, x, y)  # noqa: E731
    if impl == "torch_compile":
        loss_of = _compiled(torch, loss_of, batches[0])
        for v in flat:  # the compile probe left gradients behind; they must not accumulate
            v.grad = None
    lr = -problem.lr

    def step(x, y):
        loss_of(x, y).backward()
        with torch.no_grad():
            for v in flat:
                v.add_(v.grad, alpha=lr)
                v.grad = None

    def get_params():
        return [(W.detach().numpy(), b.detach().numpy()) for W, b in params]

    return Runner(cycling_loop(step, batches), get_params)


def _compiled(torch, loss_of, first_batch):
    """``torch.compile(loss_of)``, or Unavailable when it cannot compile here."""
    try:
        compiled = torch.compile(loss_of, dynamic=False)
        compiled(*first_batch).backward()  # compile now, so failures surface here
    except Exception as exc:  # the compiler's failures have many types
        raise Unavailable(f"torch.compile failed here: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    return compiled
