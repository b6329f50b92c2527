"""The PyTorch peer on the CPU: a Python loop over the steps with explicit matmuls,
gradients from autograd, the SGD update in place under ``no_grad``.

The parameter layout is the benchmark's (``h @ W``, gates i, f, o, g), so the check
compares like with like; ``nn.RNNCell``/``nn.LSTMCell`` would add a second input
matrix that this model does not have.

>>> from benchmarks.impls_rnn import RNNProblem
>>> problem = RNNProblem("elman", hidden=8, vocab=30, seq_len=5, n_sequences=3)
>>> make("torch", "eager", problem).run(1)  # doctest: +SKIP
"""
from benchmarks.impls import Runner, Unavailable, cycling_loop

VARIANTS = {"torch": ["eager"]}


def _import_torch(threads):
    try:
        import torch
    except ImportError:
        raise Unavailable("PyTorch is not installed (pip install torch)") from None
    if threads:
        torch.set_num_threads(threads)
    return torch


def _elman_hidden(torch, inputs, W):
    h = inputs.new_zeros(W.shape[0])
    states = []
    for t in range(inputs.shape[0]):
        h = torch.tanh(torch.addmv(inputs[t], W.t(), h))
        states.append(h)
    return torch.stack(states)


def _lstm_hidden(torch, inputs, W):
    H = W.shape[0]
    h = c = inputs.new_zeros(H)
    states = []
    for t in range(inputs.shape[0]):
        z = torch.addmv(inputs[t], W.t(), h)
        i, f, o = torch.sigmoid(z[:3 * H]).split(H)
        c = f * c + i * torch.tanh(z[3 * H:])
        h = o * torch.tanh(c)
        states.append(h)
    return torch.stack(states)


def make(impl, variant, problem):
    """A runner for one eager BPTT + SGD step per sequence."""
    if (impl, variant) != ("torch", "eager"):
        raise Unavailable(f"no variant {impl}/{variant}")
    torch = _import_torch(problem.threads)
    params = [torch.tensor(p, requires_grad=True) for p in problem.params]
    E, W, b, U, c = params
    hidden_of = _elman_hidden if problem.model == "elman" else _lstm_hidden
    data = [(torch.from_numpy(x).long(), torch.from_numpy(y).long())
            for x, y in zip(problem.X, problem.Y)]
    lr = -problem.lr

    def step(x, y):
        hidden = hidden_of(torch, E[x] + b, W)
        loss = torch.nn.functional.cross_entropy(torch.addmm(c, hidden, U), y)
        loss.backward()
        with torch.no_grad():
            for v in params:
                v.add_(v.grad, alpha=lr)
                v.grad = None

    def get_params():
        return [v.detach().numpy() for v in params]

    return Runner(cycling_loop(step, data), get_params)
