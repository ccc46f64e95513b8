"""``einsum``: Einstein summation composed from views, ``sum``, ``multiply`` and ``matmul``.

Every step is an existing (differentiable) op, so no kernel of its own is needed:

1. Each operand is reduced to distinct labels first: a label repeated within an operand
   becomes a ``diagonal`` view, a size-1 dim that broadcasts against a longer one is
   squeezed away (the operand does not vary along it), and a label that no other operand
   and not the output uses is summed out at once.
2. Operands are combined two at a time (greedily, the pair with the smallest result
   first, as numpy's ``optimize='greedy'``; ``optimize=False`` goes left to right). A
   pair is permuted to ``batch + free + contracted`` / ``batch + contracted + free`` and
   reshaped to a batched ``matmul`` (so it runs on the GEMM kernel); a pair with nothing
   to contract is a broadcast ``multiply``, and a pair with no free dims a
   ``multiply`` + ``sum``.
3. Labels left that the output does not name are summed; the result is permuted into
   the output order. A single operand that needs no summation comes back as a view, as
   in numpy.

The result dtype is the promotion of all operand dtypes (as ``matmul``); sums keep that
dtype (as ``np.einsum``: an ``int8`` einsum accumulates, and wraps, in ``int8``).
"""

from __future__ import annotations

import builtins
import math

from . import _core
from ._core import Tensor

_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _parse_term(term: str, where: str) -> tuple[list[str], bool]:
    """Letters of one term, the ellipsis as the marker ``'...'``; validates characters."""
    out: list[str] = []
    has_ellipsis = False
    i = 0
    while i < len(term):
        c = term[i]
        if c == ".":
            if term[i:i + 3] != "...":
                raise ValueError(f"einsum: {where} {term!r} has a '.' that is not part of an "
                                 "ellipsis '...'")
            if has_ellipsis:
                raise ValueError(f"einsum: {where} {term!r} has more than one ellipsis")
            has_ellipsis = True
            out.append("...")
            i += 3
            continue
        if c not in _LETTERS:
            raise ValueError(f"einsum: invalid subscript {c!r} in {where} {term!r}: only the "
                             "letters a-z, A-Z and '...' are allowed")
        out.append(c)
        i += 1
    return out, has_ellipsis


def _promoted_dtype(tensors):
    dt = tensors[0].dtype
    for t in tensors[1:]:
        if t.dtype != dt:
            probe_a = _core._full((0,), 0, dt)
            probe_b = _core._full((0,), 0, t.dtype)
            dt = _core._binary("add", probe_a, probe_b).dtype
    return dt


def _operands_from_args(operands):
    """numpy's ``einsum(eq, a, b)`` or PyTorch's list form ``einsum(eq, [a, b])``."""
    if (len(operands) == 1 and isinstance(operands[0], (list, tuple)) and operands[0]
            and builtins.all(isinstance(o, Tensor) or hasattr(o, "__array_interface__")
                             for o in operands[0])):
        operands = tuple(operands[0])
    return [o if isinstance(o, Tensor) else _core._as_tensor(o) for o in operands]


def _size(labels, sizes) -> int:
    return math.prod(sizes[lab] for lab in labels)


def _sum_labels(t: Tensor, labels: list, drop, dtype):
    """Sums the axes of ``t`` whose labels are in ``drop``."""
    axes = [i for i, lab in enumerate(labels) if lab in drop]
    if not axes:
        return t, labels
    t = _core._reduce("sum", t, tuple(axes), False, dtype)
    return t, [lab for lab in labels if lab not in drop]


def _contract(a, la, b, lb, keep, sizes, dtype):
    """The product of operands ``a`` (labels ``la``) and ``b`` (``lb``), summing the
    shared labels that are not in ``keep``; returns (tensor, labels)."""
    sb, sa = set(lb), set(la)
    # Labels only one side has and nobody needs later: sum them before multiplying.
    a, la = _sum_labels(a, la, {x for x in la if x not in sb and x not in keep}, dtype)
    b, lb = _sum_labels(b, lb, {x for x in lb if x not in sa and x not in keep}, dtype)
    batch = [x for x in la if x in sb and x in keep]
    contr = [x for x in la if x in sb and x not in keep]
    fa = [x for x in la if x not in sb]
    fb = [x for x in lb if x not in sa]
    pa = [la.index(x) for x in batch + fa + contr]
    pb = [lb.index(x) for x in batch + contr + fb]
    a, b = a.permute(pa), b.permute(pb)
    bshape = [sizes[x] for x in batch]
    if not contr:
        # Nothing to sum: a broadcast product (an outer product per batch element).
        a = a.reshape(bshape + [sizes[x] for x in fa] + [1] * len(fb))
        b = b.reshape(bshape + [1] * len(fa) + [sizes[x] for x in fb])
        return _core._binary("multiply", a, b), batch + fa + fb
    if not fa and not fb:
        # A batch of dot products: many 1 x k x 1 GEMMs would cost more than this.
        prod = _core._binary("multiply", a, b)
        axes = tuple(range(len(batch), len(batch) + len(contr)))
        return _core._reduce("sum", prod, axes, False, dtype), batch
    m, k, n = _size(fa, sizes), _size(contr, sizes), _size(fb, sizes)
    out = _core.matmul(a.reshape(bshape + [m, k]), b.reshape(bshape + [k, n]))
    out = out.reshape(bshape + [sizes[x] for x in fa] + [sizes[x] for x in fb])
    return out, batch + fa + fb


def _pick_pair(ops, out_labels, sizes):
    """numpy's greedy rule: among pairs sharing a label (all pairs if none do), the one
    whose result is smallest relative to its inputs; ties go to the leftmost pair."""
    best = None
    sets = [set(lab) for _, lab in ops]
    shared_any = builtins.any(sets[i] & sets[j] for i in range(len(ops))
                              for j in range(i + 1, len(ops)))
    for i in range(len(ops)):
        for j in range(i + 1, len(ops)):
            if shared_any and not sets[i] & sets[j]:
                continue
            keep = set(out_labels).union(*(sets[o] for o in range(len(ops)) if o not in (i, j)))
            result = [x for x in sets[i] | sets[j] if x in keep]
            r = _size(result, sizes)
            cost = (r - _size(sets[i], sizes) - _size(sets[j], sizes), r)
            if best is None or cost < best[0]:
                best = (cost, i, j)
    return best[1], best[2]


def einsum(subscripts: str, /, *operands, optimize="greedy") -> Tensor:
    """Einstein summation with numpy's / PyTorch's semantics.

    ``subscripts`` names each operand's axes with letters (``a-z``, ``A-Z``); ``...``
    stands for the broadcast leading axes. With ``->`` the output is explicit; without,
    it is the ellipsis axes followed by the letters that appear exactly once, sorted.
    Repeated letters within an operand take its diagonal; letters missing from the output
    are summed. Size-1 axes broadcast. Ellipsis axes left out of an explicit output are
    summed (PyTorch's rule; numpy raises). Operands may be given as separate arguments or
    as one list (PyTorch's ``einsum(eq, [a, b])``). ``optimize`` picks the pairwise
    order: ``'greedy'``/``True``/``'optimal'`` (greedy), ``False`` (left to right).
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string, got {type(subscripts).__name__}")
    tensors = _operands_from_args(operands)
    if not tensors:
        raise ValueError("einsum: at least one operand is required")
    eq = subscripts.replace(" ", "")
    if eq.count("->") > 1 or eq.replace("->", "").count("-") or eq.replace("->", "").count(">"):
        raise ValueError(f"einsum: subscripts {subscripts!r} may contain '->' at most once "
                         "(and no other '-' or '>')")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(tensors):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s) but "
                         f"{len(tensors)} were given")

    # Parse, check ranks, and give every axis a label: a letter, or for ellipsis axes an
    # int counting from the left of the (broadcast) ellipsis.
    parsed = [_parse_term(t, f"operand {i} subscripts") for i, t in enumerate(terms)]
    ell_ndim = 0
    for i, ((letters, has_ell), t) in enumerate(zip(parsed, tensors)):
        n_letters = len(letters) - has_ell
        if (t.ndim != n_letters) if not has_ell else (t.ndim < n_letters):
            raise ValueError(f"einsum: operand {i} has {t.ndim} dimension(s) (shape {t.shape}) "
                             f"but subscripts {terms[i]!r} name "
                             f"{'at least ' if has_ell else ''}{n_letters}")
        if has_ell:
            ell_ndim = builtins.max(ell_ndim, t.ndim - n_letters)
    labels_of: list[list] = []
    for (letters, _), t in zip(parsed, tensors):
        labels: list = []
        for x in letters:
            if x == "...":
                w = t.ndim - (len(letters) - 1)
                labels.extend(range(ell_ndim - w, ell_ndim))
            else:
                labels.append(x)
        labels_of.append(labels)

    sizes: dict = {}
    for i, (labels, t) in enumerate(zip(labels_of, tensors)):
        own: dict = {}
        for x, n in zip(labels, t.shape):
            if own.setdefault(x, n) != n:
                raise ValueError(f"einsum: subscript '{x}' is repeated in operand {i} but its "
                                 f"sizes differ ({own[x]} != {n}, shape {t.shape})")
        for x, n in zip(labels, t.shape):
            if n == 1 and x in sizes:
                continue
            if sizes.get(x, 1) not in (1, n):
                name = f"'{x}'" if isinstance(x, str) else "'...'"
                raise ValueError(f"einsum: subscript {name} has size {n} in operand {i} (shape "
                                 f"{t.shape}) but size {sizes[x]} elsewhere; sizes must match "
                                 "or be 1")
            sizes[x] = n

    if arrow:
        out_letters, out_ell = _parse_term(rhs, "output subscripts")
        out_labels: list = []
        for x in out_letters:
            if x == "...":
                out_labels.extend(range(ell_ndim))
            elif x in out_labels:
                raise ValueError(f"einsum: output subscript '{x}' appears more than once")
            elif x not in sizes:
                raise ValueError(f"einsum: output subscript '{x}' does not appear in the inputs")
            else:
                out_labels.append(x)
    else:
        counts: dict = {}
        for labels in labels_of:
            for x in labels:
                if isinstance(x, str):
                    counts[x] = counts.get(x, 0) + 1
        out_labels = list(range(ell_ndim)) + sorted(x for x, c in counts.items() if c == 1)

    dtype = _promoted_dtype(tensors)
    tensors = [t.astype(dtype, copy=False) for t in tensors]

    # Per operand: diagonals for repeated labels, broadcast size-1 axes dropped.
    ops = []
    for labels, t in zip(labels_of, tensors):
        while len(set(labels)) != len(labels):
            p = next(j for j, x in enumerate(labels) if labels.index(x) != j)
            q = labels.index(labels[p])
            t = t.diagonal(0, q, p)
            lab = labels[p]
            labels = [x for j, x in enumerate(labels) if j not in (p, q)] + [lab]
        squeeze = [j for j, x in enumerate(labels) if t.shape[j] == 1 and sizes[x] != 1]
        if squeeze:
            t = t.squeeze(tuple(squeeze))
            labels = [x for j, x in enumerate(labels) if j not in squeeze]
        ops.append((t, labels))

    # Labels used by one operand only (and not the output) are summed out at once.
    for i, (t, labels) in enumerate(ops):
        elsewhere = set(out_labels).union(*(set(lb) for j, (_, lb) in enumerate(ops) if j != i))
        ops[i] = _sum_labels(t, labels, {x for x in labels if x not in elsewhere}, dtype)

    greedy = optimize not in (False, None, "none")
    while len(ops) > 1:
        i, j = _pick_pair(ops, out_labels, sizes) if greedy and len(ops) > 2 else (0, 1)
        (a, la), (b, lb) = ops[i], ops[j]
        rest = [op for k, op in enumerate(ops) if k not in (i, j)]
        keep = set(out_labels).union(*(set(lab) for _, lab in rest))
        rest.insert(i, _contract(a, la, b, lb, keep, sizes, dtype))
        ops = rest

    t, labels = ops[0]
    t, labels = _sum_labels(t, labels, {x for x in labels if x not in out_labels}, dtype)
    return t.permute([labels.index(x) for x in out_labels])
