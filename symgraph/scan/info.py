"""``ScanInfo``: the static description of a Scan op, and the layout of its inputs/outputs.

A Scan runs an inner graph once per step.  Everything it needs to know about
the shape of the loop, apart from the inner graph itself, is in this record,
which is part of the op's ``__props__`` (two scans with equal info and equal
inner graphs are equal ops, so merging finds duplicate loops).

Layout (``T`` = number of steps, ``L_i = -min(state_taps[i])``)::

    outer inputs   n_steps | seqs | state inits | shared inits | non-seqs
                   (int64)   (T rows) (L_i rows)   (any)          (any)
    inner inputs   seq slices | state taps (per state, its taps in order) | shared | non-seqs
    inner outputs  state news | nit-sot values | shared news | [until condition]
    outer outputs  state buffers | nit-sot stacks | shared finals
                   (L_i + T rows)  (T rows)        (value after the last step)

A state buffer holds the L_i initial rows followed by one row per step: at step
``t`` tap ``k`` reads row ``L_i + t + k`` and the new value is written to row
``L_i + t``.  ``scan()`` returns ``buffer[L_i:]`` (the steps only, as Theano does).
Sit-sot states (Theano's "single input tap, single output tap") are the states
whose taps are ``(-1,)``; mit-sot states have other taps.  There is no mit-mot
category: gradients carry their pending adjoints in ordinary states (grad.py).
With ``as_while`` the last inner output is a boolean scalar; the loop stops after
the first step where it is true (do-while), and the outputs hold only the steps run.

``state_keep`` (one entry per state; 0 = the full buffer) is set by the memory-saving
rewrite (rewriting.py) when only a state's last rows are used: with ``k > 0`` the
loop keeps the state in a circular buffer of ``max(k, L_i + 1)`` rows (row ``r`` of
the full buffer lives at ``r % size``) and the outer output is only the last
``min(k, L_i + steps)`` rows of the full buffer, in order.  Such a Scan has no
gradient or R-op: differentiate before rewriting, as ``function`` does.
"""


class ScanInfo:
    """The loop structure of a Scan (see the module docstring for the layout); immutable,
    compared and hashed by value.

    >>> info = ScanInfo(n_seqs=1, state_taps=((-1,), (-1, -3)), n_nit_sot=1,
    ...                 n_shared_outs=0, n_non_seqs=2)
    >>> info.state_lags, info.n_sit_sot, info.n_mit_sot, info.n_outer_inputs
    ((1, 3), 1, 1, 6)
    """

    _fields = ("n_seqs", "state_taps", "n_nit_sot", "n_shared_outs", "n_non_seqs", "as_while",
               "truncate_gradient", "state_keep")
    __slots__ = _fields + ("_key",)

    def __init__(self, n_seqs, state_taps, n_nit_sot, n_shared_outs, n_non_seqs,
                 as_while=False, truncate_gradient=-1, state_keep=None):
        taps = tuple(tuple(int(k) for k in t) for t in state_taps)
        for t in taps:
            if not t or any(k >= 0 for k in t):
                raise ValueError(f"ScanInfo: state taps must be non-empty and negative, got {t}")
        if truncate_gradient != -1 and truncate_gradient < 1:
            raise ValueError(f"truncate_gradient must be -1 (none) or positive, "
                             f"got {truncate_gradient}")
        keep = (0,) * len(taps) if state_keep is None else tuple(int(k) for k in state_keep)
        if len(keep) != len(taps) or any(k < 0 for k in keep):
            raise ValueError(f"ScanInfo: state_keep needs one count >= 0 per state, got {keep}")
        values = (int(n_seqs), taps, int(n_nit_sot), int(n_shared_outs), int(n_non_seqs),
                  bool(as_while), int(truncate_gradient), keep)
        for name, value in zip(self._fields, values):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_key", values)

    def __setattr__(self, name, value):
        raise AttributeError("ScanInfo is immutable")

    def __reduce__(self):  # pickle by the constructor: __setattr__ refuses
        return ScanInfo, self._key

    def __eq__(self, other):
        return type(other) is ScanInfo and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    def __repr__(self):
        args = ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self._key))
        return f"ScanInfo({args})"

    # -- counts ------------------------------------------------------------------
    @property
    def n_states(self):
        return len(self.state_taps)

    @property
    def state_lags(self):
        """Rows of initial values each state needs: ``-min(taps)``."""
        return tuple(-min(t) for t in self.state_taps)

    @property
    def n_sit_sot(self):
        return sum(1 for t in self.state_taps if t == (-1,))

    @property
    def n_mit_sot(self):
        return self.n_states - self.n_sit_sot

    @property
    def n_taps(self):
        return sum(len(t) for t in self.state_taps)

    @property
    def n_outer_inputs(self):
        return 1 + self.n_seqs + self.n_states + self.n_shared_outs + self.n_non_seqs

    @property
    def n_inner_inputs(self):
        return self.n_seqs + self.n_taps + self.n_shared_outs + self.n_non_seqs

    @property
    def n_inner_outputs(self):
        return self.n_states + self.n_nit_sot + self.n_shared_outs + int(self.as_while)

    @property
    def n_outer_outputs(self):
        return self.n_states + self.n_nit_sot + self.n_shared_outs

    # -- splitting lists in the layout ---------------------------------------------
    def split_outer_inputs(self, inputs):
        """``(n_steps, seqs, state_inits, shared_inits, non_seqs)``."""
        a = 1 + self.n_seqs
        b = a + self.n_states
        c = b + self.n_shared_outs
        return inputs[0], list(inputs[1:a]), list(inputs[a:b]), list(inputs[b:c]), list(inputs[c:])

    def split_inner_inputs(self, inputs):
        """``(seq_slices, taps_per_state, shared, non_seqs)``; taps_per_state is a list of lists."""
        seqs = list(inputs[:self.n_seqs])
        pos, taps = self.n_seqs, []
        for t in self.state_taps:
            taps.append(list(inputs[pos:pos + len(t)]))
            pos += len(t)
        shared = list(inputs[pos:pos + self.n_shared_outs])
        return seqs, taps, shared, list(inputs[pos + self.n_shared_outs:])

    def split_inner_outputs(self, outputs):
        """``(state_news, nit_values, shared_news, condition or None)``."""
        a = self.n_states
        b = a + self.n_nit_sot
        c = b + self.n_shared_outs
        cond = outputs[c] if self.as_while else None
        return list(outputs[:a]), list(outputs[a:b]), list(outputs[b:c]), cond

    def split_outer_outputs(self, outputs):
        """``(state_buffers, nit_stacks, shared_finals)``."""
        a = self.n_states
        b = a + self.n_nit_sot
        return list(outputs[:a]), list(outputs[a:b]), list(outputs[b:])

    def inner_to_outer_input(self):
        """For each inner input, the index of the outer input it comes from."""
        mapping = [1 + k for k in range(self.n_seqs)]
        base = 1 + self.n_seqs
        for i, t in enumerate(self.state_taps):
            mapping += [base + i] * len(t)
        base += self.n_states
        mapping += [base + j for j in range(self.n_shared_outs)]
        base += self.n_shared_outs
        mapping += [base + j for j in range(self.n_non_seqs)]
        return mapping

    def describe(self):
        parts = []
        if self.n_seqs:
            parts.append(f"seqs={self.n_seqs}")
        if self.state_taps:
            parts.append("states=" + ",".join(str(list(t)) for t in self.state_taps))
        if self.n_nit_sot:
            parts.append(f"nit_sot={self.n_nit_sot}")
        if self.n_shared_outs:
            parts.append(f"shared={self.n_shared_outs}")
        if self.n_non_seqs:
            parts.append(f"non_seqs={self.n_non_seqs}")
        if self.as_while:
            parts.append("while")
        if self.truncate_gradient != -1:
            parts.append(f"truncate={self.truncate_gradient}")
        if any(self.state_keep):
            parts.append("keep=" + ",".join(str(k) for k in self.state_keep))
        return ", ".join(parts)
