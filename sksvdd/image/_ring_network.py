"""Min/max selection networks of the ring median, built once per window pair.

:func:`_plan` turns a window pair ``(outer, inner)`` into the stages that
:mod:`sksvdd.image._ring` runs on tiles of the image. The network shares work
between neighbouring windows:

1. vertical: each column of a window is sorted once per image position, from
   sorted half-columns that serve both the window below them and the one
   above;
2. horizontal: consecutive sorted columns are merged (Batcher's odd-even
   merge) into sorted blocks computed once per position, each used by the
   window on its right and by the window on its left;
3. per window: the left block, the right block and the guard columns are
   merged, and after every merge the values that cannot reach the median's
   rank are dropped, so only the comparators that feed the median remain.

Networks are symbolic (:class:`_Network`), pruned back from the median and
scheduled so that a buffer slot is reused as soon as its value is dead.
"""

from functools import lru_cache


class _Stage:
    """One network applied to a tile.

    ``inputs`` are ``(source stage or -1 for the padded image, slot, row
    offset, column offset)``; ``ops`` are ``(is_max, a, b, dest)`` over
    ``values = inputs + slots (+ out)``; ``final`` (last stage only) is the
    index in ``values`` of the median.
    """

    def __init__(self, inputs, ops, n_slots, final=None):
        self.inputs = inputs
        self.ops = ops
        self.n_slots = n_slots
        self.final = final


class _Plan:
    def __init__(self, radius, stages):
        self.radius = radius
        self.stages = stages
        self.n_ops = sum(len(stage.ops) for stage in stages)
        self.n_slots = sum(stage.n_slots for stage in stages)

    def extents(self, h, w, bands):
        """Rows and flat columns ``(r0, r1, c0, c1)`` each stage covers for an h x w tile."""
        n = len(self.stages)
        ext = [None] * n
        ext[-1] = (0, h, 0, w)
        for s in range(n - 1, -1, -1):
            if ext[s] is None:
                continue
            r0, r1, c0, c1 = ext[s]
            for src, _, dr, dc in self.stages[s].inputs:
                if src < 0:
                    continue
                need = (r0 + dr, r1 + dr, c0 + dc * bands, c1 + dc * bands)
                old = ext[src] or need
                ext[src] = (
                    min(old[0], need[0]),
                    max(old[1], need[1]),
                    min(old[2], need[2]),
                    max(old[3], need[3]),
                )
        return ext


class _Network:
    """Symbolic min/max network: node ``i`` is an input or ``(is_max, a, b)``."""

    def __init__(self, n_inputs):
        self.n_inputs = n_inputs
        self.nodes = [None] * n_inputs

    def compare(self, a, b):
        self.nodes.append((False, a, b))
        self.nodes.append((True, a, b))
        return len(self.nodes) - 2, len(self.nodes) - 1

    def needed(self, outputs):
        need = set(outputs)
        stack = list(outputs)
        while stack:
            node = self.nodes[stack.pop()]
            if node is not None:
                for s in node[1:]:
                    if s not in need:
                        need.add(s)
                        stack.append(s)
        return need

    def n_ops(self, outputs):
        return sum(1 for i in self.needed(outputs) if i >= self.n_inputs)

    def schedule(self, outputs, final=False):
        """Pruned ops with buffer slots reused as soon as a value is dead.

        Returns ``(ops, n_slots, output_slots, needed_inputs)``; with
        ``final``, the single output is written to the value after the slots.
        """
        need = self.needed(outputs)
        order = sorted(i for i in need if i >= self.n_inputs)
        last_use = {}
        for i in order:
            for s in self.nodes[i][1:]:
                last_use[s] = i
        keep = set(outputs)
        where = {i: ("in", i) for i in range(self.n_inputs)}
        free, n_slots, raw = [], 0, []
        for i in order:
            is_max, a, b = self.nodes[i]
            for s in (a, b):
                if s >= self.n_inputs and last_use[s] == i and s not in keep:
                    free.append(where[s][1])
            if final and i == outputs[0]:
                where[i] = ("out", 0)
            elif free:
                where[i] = ("slot", free.pop())
            else:
                where[i] = ("slot", n_slots)
                n_slots += 1
            raw.append((is_max, where[a], where[b], where[i]))
        n_in = self.n_inputs

        def index(ref):
            kind, j = ref
            return j if kind == "in" else (n_in + j if kind == "slot" else n_in + n_slots)

        ops = [(is_max, index(a), index(b), index(d)) for is_max, a, b, d in raw]
        output_refs = [where[o] for o in outputs]
        needed_inputs = sorted(i for i in need if i < self.n_inputs)
        return ops, n_slots, output_refs, needed_inputs


def _merge(net, a, b):
    """Batcher's odd-even merge of two sorted lists of nodes, any lengths."""
    if not a or not b:
        return list(a or b)
    if len(a) == 1 and len(b) == 1:
        return list(net.compare(a[0], b[0]))
    even = _merge(net, a[0::2], b[0::2])
    odd = _merge(net, a[1::2], b[1::2])
    # Interleaved, the two are sorted but for adjacent (odd, next even) pairs.
    merged = [even[0]]
    for i, o in enumerate(odd):
        if i + 1 < len(even):
            merged.extend(net.compare(o, even[i + 1]))
        else:
            merged.append(o)
    merged.extend(even[len(odd) + 1 :])
    return merged


def _sort(net, nodes):
    if len(nodes) <= 1:
        return list(nodes)
    half = len(nodes) // 2
    return _merge(net, _sort(net, nodes[:half]), _sort(net, nodes[half:]))


def _trim(lists, n, k):
    """Drop the values of sorted lists that cannot be the rank-``k`` value of ``n``.

    Position ``j`` of a sorted list of ``s`` has at least ``j`` values below
    it and ``s - 1 - j`` above; it can be of rank ``k`` only if ``k - (n - s)
    <= j <= k``. Values dropped below the range lower ``k``.
    """
    kept = []
    for values in lists:
        s = len(values)
        lo, hi = max(0, k - (n - s)), min(s - 1, k)
        kept.append(values[lo : hi + 1])
        k -= lo
        n -= s - (hi + 1 - lo)
    return kept, n, k


def _select(net, lists, k, order):
    """Rank-``k`` node of the union of sorted lists, merged pairwise in ``order``."""
    lists, n, k = _trim([list(v) for v in lists if v], sum(map(len, lists)), k)
    for i, j in order:
        merged = _merge(net, lists[i], lists[j])
        lists = [v for t, v in enumerate(lists) if t not in (i, j)] + [merged]
        lists, n, k = _trim(lists, n, k)
    (values,) = lists
    return values[k]


@lru_cache(maxsize=None)
def _plan(outer, inner, split_half):
    """Stages for the ring of ``outer`` minus ``inner``, pruned back from the median.

    Offsets are relative to a window's top-left padded pixel: rows and columns
    ``0 .. 2R`` (``R = outer // 2``); the guard covers ``R - r .. R + r``
    (``r = inner // 2``), with ``side = R - r`` rows above it and as many
    below, ``side`` full columns left of it and as many right.
    """
    R, r = outer // 2, inner // 2
    side = R - r
    n_partial = outer - inner
    k = (outer * outer - inner * inner) // 2
    # A stage is (network, output nodes, input refs); a ref is (source, output
    # position, row offset, column offset), the source "image" being the
    # padded cube.
    specs = {}

    # Vertical: sorted half-columns, shared by windows side + inner rows apart;
    # then each column without its guard rows (partial) and whole (full).
    # On tiles of fewer rows than that, one stage over the rows of both halves
    # would mostly compute rows nobody uses, so each half has its own stage.
    halves = ("top", "bottom") if split_half else ("top", "top")
    for name in dict.fromkeys(halves):
        net = _Network(side)
        refs = [("image", 0, dr, 0) for dr in range(side)]
        specs[name] = (net, _sort(net, list(range(side))), refs)
    net = _Network(2 * side + inner)
    partial = _merge(net, list(range(side)), list(range(side, 2 * side)))
    full = _merge(net, partial, _sort(net, list(range(2 * side, 2 * side + inner))))
    refs = [(halves[0], i, 0, 0) for i in range(side)]
    refs += [(halves[1], i, R + r + 1, 0) for i in range(side)]
    refs += [("image", 0, side + j, 0) for j in range(inner)]
    specs["column"] = (net, full + partial, refs)

    # Horizontal: a block of w consecutive sorted columns is the merge of the
    # block of w // 2 at its left and the block of w - w // 2 after it; every
    # block is computed once per position and shared by the windows holding it.
    def block(kind, w, i, dc):
        if w == 1:
            return ("column", i if kind == "full" else outer + i, 0, dc)
        return ((kind, w), i, 0, dc)

    def add_blocks(kind, w, length):
        if w <= 1 or (kind, w) in specs:
            return
        left, right = w // 2, w - w // 2
        net = _Network(w * length)
        merged = _merge(net, list(range(left * length)), list(range(left * length, w * length)))
        refs = [block(kind, left, i, 0) for i in range(left * length)]
        refs += [block(kind, right, i, left) for i in range(right * length)]
        specs[(kind, w)] = (net, merged, refs)
        add_blocks(kind, left, length)
        add_blocks(kind, right, length)

    add_blocks("full", side, outer)
    add_blocks("partial", inner, n_partial)

    # Per window: left block, right block and guard block, merged in the
    # cheapest order, keeping only what can reach rank k.
    n_full, n_guard = side * outer, inner * n_partial
    bounds = [0, n_full, 2 * n_full, 2 * n_full + n_guard]
    best = None
    for order in ([(0, 1), (0, 1)], [(0, 2), (0, 1)], [(1, 2), (0, 1)]):
        net = _Network(bounds[-1])
        lists = [list(range(lo, hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]
        node = _select(net, lists, k, order)
        if best is None or net.n_ops([node]) < best[0]:
            best = (net.n_ops([node]), net, node)
    refs = [block("full", side, i, 0) for i in range(n_full)]
    refs += [block("full", side, i, R + r + 1) for i in range(n_full)]
    refs += [block("partial", inner, i, side) for i in range(n_guard)]
    specs["final"] = (best[1], [best[2]], refs)
    return _build_stages(specs, R)


def _build_stages(specs, radius):
    """Prune back to front, then number the stages front to back."""
    trees = sorted((key for key in specs if isinstance(key, tuple)), key=lambda t: -t[1])
    back = ["final", *trees, "column", *(key for key in ("top", "bottom") if key in specs)]
    needed = {key: set() for key in back}
    needed["final"].add(0)
    scheduled = {}
    for key in back:
        net, outputs, refs = specs[key]
        positions = sorted(needed[key])
        ops, n_slots, out_refs, used = net.schedule(
            [outputs[p] for p in positions], final=key == "final"
        )
        scheduled[key] = (ops, n_slots, dict(zip(positions, out_refs)), used)
        for i in used:
            if refs[i][0] != "image":
                needed[refs[i][0]].add(refs[i][1])

    # An output that is one of a stage's inputs (nothing to compute) is found
    # where that input lives, offsets added up.
    stages, located = [], {}
    for number, key in enumerate(back[::-1]):
        net, _, refs = specs[key]
        ops, n_slots, out_refs, used = scheduled[key]
        inputs, remap = [], {}
        for i in used:
            source, position, dr, dc = refs[i]
            if source == "image":
                inputs.append((-1, 0, dr, dc))
            else:
                s, slot, r0, c0 = located[(source, position)]
                inputs.append((s, slot, r0 + dr, c0 + dc))
            remap[i] = len(inputs) - 1
        n_in = net.n_inputs

        def renumber(v, n_in=n_in, remap=remap, n_used=len(inputs)):
            return remap[v] if v < n_in else v - n_in + n_used

        ops = [(is_max, renumber(a), renumber(b), renumber(d)) for is_max, a, b, d in ops]
        final = None
        for position, (where, j) in out_refs.items():
            if where == "in":
                located[(key, position)] = inputs[remap[j]]
                final = remap[j]
            elif where == "slot":
                located[(key, position)] = (number, j, 0, 0)
            else:
                final = len(inputs) + n_slots
        stages.append(_Stage(inputs, ops, n_slots, final if key == "final" else None))
    return _Plan(radius, stages)
