"""A callgrind output file, read function by function.

callgrind_annotate lists a function once per source file its lines come
from (and again under `???` for lines without debug information), so its
per-function figures cannot simply be added up or differenced between two
runs.  This reads the file itself (the format of valgrind's "Callgrind
Format Specification": name compression, `fi=`/`fe=` for inlined lines,
`calls=` followed by the inclusive cost of that call) and gives one figure
per function:

- self: the instructions executed in the function's own code;
- inclusive: self plus the cost of every call it made (a direct
  recursion is not counted twice);
- callers: for each function, the function that spent the most calling
  it (names the anonymous functions of a stripped library).

A function is (object, name); report() turns it into a readable name.
Only the first event (Ir) is read.
"""
import re
from collections import Counter, defaultdict
from pathlib import Path

_NAMED = re.compile(r"^\((\d+)\)(?: (.*))?$")


def _unrecursed(name):
    """f'2 (f called from within f, when callgrind separates recursion
    levels) is f."""
    return re.sub(r"'\d+$", "", name)


class Profile:
    def __init__(self, path):
        self.self_cost = Counter()
        self.calls = defaultdict(Counter)     # caller -> callee -> Ir
        self.total = 0
        self._read(Path(path))

    def _read(self, path):
        names = {"ob": {}, "fl": {}, "fn": {}}
        ob = fn = None
        call_target = None       # the callee of the next cost line
        call_ob = None
        with path.open(errors="replace") as f:
            for line in f:
                c = line[0] if line else ""
                if c.isdigit() or c in "+-*":
                    cost = line.split()
                    ir = int(cost[1]) if len(cost) > 1 else 0
                    if call_target is not None:
                        self.calls[(ob, fn)][call_target] += ir
                        call_target = None
                    else:
                        self.self_cost[(ob, fn)] += ir
                    continue
                key, _, value = line.rstrip("\n").partition("=")
                if key in ("ob", "cob"):
                    name = self._name(names["ob"], value)
                    if key == "ob":
                        ob = name
                    call_ob = name
                elif key == "fn":
                    fn = _unrecursed(self._name(names["fn"], value))
                    call_ob = ob
                elif key == "cfn":
                    target_fn = _unrecursed(self._name(names["fn"], value))
                elif key == "calls":
                    call_target = (call_ob, target_fn)
                    call_ob = ob
                elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                    self._name(names["fl"], value)
                elif line.startswith("totals:") or line.startswith(
                        "summary:"):
                    self.total = int(line.split()[1])

    @staticmethod
    def _name(table, value):
        m = _NAMED.match(value)
        if not m:
            return value
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), value)

    def inclusive(self):
        out = Counter(self.self_cost)
        for caller, callees in self.calls.items():
            for callee, ir in callees.items():
                if callee != caller:
                    out[caller] += ir
        return out

    def attributed(self, objects):
        """For each function of `objects`: its own instructions and those
        of the calls it makes outside `objects` (the library work it asks
        for: a digest, a signature, a query), but not those of its calls
        to other functions of `objects`, which are theirs.  Across the
        functions of `objects` these add up to what they cost in all."""
        out = Counter({f: ir for f, ir in self.self_cost.items()
                       if f[0] in objects})
        for caller, callees in self.calls.items():
            if caller[0] not in objects:
                continue
            for callee, ir in callees.items():
                if callee[0] not in objects and callee != caller:
                    out[caller] += ir
        return out

    def callers(self):
        """callee -> its costliest caller."""
        best = {}
        for caller, callees in self.calls.items():
            for callee, ir in callees.items():
                if callee != caller and ir > best.get(callee, (0, None))[0]:
                    best[callee] = (ir, caller)
        return {callee: caller for callee, (_, caller) in best.items()}


def readable(func):
    """(object, name) as a reader wants it: the name; for a function of a
    stripped library, the library and the address."""
    ob, fn = func
    if fn and fn.startswith("0x") and ob:
        lib = Path(ob).name.split(".so")[0]
        return f"{lib}+{fn[2:].lstrip('0') or '0'}"
    return fn or "?"
