#!/usr/bin/env python3
"""Where a benchmark's heap allocations come from, from scripts/alloc-census.sh's recording.

    scripts/alloc-census.py CENSUS.txt [--top N]
    scripts/alloc-census.py CENSUS.txt --callers PATTERN [--depth D]

The first form prints the share of allocations by thread, by kind (an array growing or being
created, a string's storage, a class instance or closure context, or an allocation inside a C
library), and by the code that asked for it: the innermost frame in the benchmarked binary
itself, or the C library's name when the stack never reaches the binary (librdkafka's own
mallocs). The second lists, for allocations whose stack holds a function whose demangled name
contains PATTERN, the D frames that called it (1 by default): `--callers _consumeAndCreateNew`
says which code grew an array.

Symbols are demangled with `swift demangle --simplified`.
"""
import argparse
import collections
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import perf_script  # noqa: E402

ALLOCATOR = ("libjemalloc", "libc.so")
# Libraries whose frames say what was allocated rather than who wanted it.
RUNTIME = ("libswift", "libFoundation", "libdispatch")

# The standard library's allocation paths, and what the allocation is.
KINDS = (
    ("array", ("_consumeAndCreateNew", "_createNewBuffer", "_ContiguousArrayBuffer", "_copyCollectionToContiguousArray",
               "_allocateUninitializedArray", "Array.reserveCapacity", "Array.init", "ContiguousArray")),
    ("string", ("StringStorage", "_StringGuts", "String.init", "_fromUTF8", "_uncheckedFromUTF8")),
    ("dictionary or set", ("_NativeDictionary", "_NativeSet", "__RawDictionaryStorage", "__RawSetStorage", "_DictionaryStorage", "_SetStorage")),
    ("object or context", ("swift_allocObject", "swift_allocBox", "swift_task_alloc")),
)


def load(path):
    """Each recorded allocation as (thread, [(symbol, library), ...]) with the allocator first."""
    return perf_script.load(path)


def demangler(samples):
    table = perf_script.demangled(symbol for _, frames in samples for symbol, _ in frames)
    return lambda symbol: table.get(symbol, symbol)[:110]


def binary_of(samples):
    """The benchmarked binary: the library most frames outside the runtime and C libraries belong to."""
    counts = collections.Counter(
        library for _, frames in samples for _, library in frames
        if not library.startswith(("lib", "[", "?")) and library != "ld-linux-x86-64.so.2")
    return counts.most_common(1)[0][0] if counts else None


def kind_of(names, libraries, binary):
    """What was allocated: the standard library's path to the allocator says, up to the first
    frame of the project's own code."""
    runtime = []
    for name, library in zip(names, libraries):
        if library.startswith(ALLOCATOR):
            continue
        if library == binary and not is_library_code(name):
            break
        if library != binary and not library.startswith(RUNTIME):
            if not runtime:
                return "inside " + library
            break
        runtime.append(name)
    for kind, patterns in KINDS:
        if any(pattern in name for name in runtime for pattern in patterns):
            return kind
    return "other" if runtime else "no caller recorded"


def is_library_code(name):
    """Standard library code specialized into the binary, or the compiler's helpers.

    Judged by the simplified name's start, so it errs both ways now and then: the project's own
    extensions of `String` or `Array` count as library code, and protocol-extension methods of
    the standard library (`Sequence.map`) as the project's.
    """
    return (name.startswith(("__swift", "outlined", "_", "specialized _", "Array", "specialized Array",
                             "ContiguousArray", "specialized ContiguousArray", "String", "specialized String",
                             "static String", "specialized static String", "Dictionary", "specialized Dictionary"))
            or any(pattern in name for _, patterns in KINDS for pattern in patterns))


def code_of(names, libraries, binary):
    """The project code that asked: the innermost frame of the binary that is not library code,
    else the C library the stack ends in."""
    for name, library in zip(names, libraries):
        if library == binary and not is_library_code(name):
            return name
    for name, library in zip(names, libraries):
        if library.startswith(ALLOCATOR + RUNTIME):
            continue
        if library in ("[unknown]", "?"):
            return "(C code without symbols or frame pointers, librdkafka's mostly)"
        return "(" + library + ")"
    return "(no caller recorded)"


def summary(samples, demangle, top):
    binary = binary_of(samples)
    total = len(samples)
    by_thread, by_kind, by_code = collections.Counter(), collections.Counter(), collections.Counter()
    for thread, frames in samples:
        names = [demangle(symbol) for symbol, _ in frames]
        libraries = [library for _, library in frames]
        by_thread[thread] += 1
        kind = kind_of(names, libraries, binary)
        by_kind[kind] += 1
        by_code[(code_of(names, libraries, binary), kind)] += 1
    print(f"{total} allocations recorded; the binary is {binary}")
    for title, counter, limit in (("by thread", by_thread, 8), ("by kind", by_kind, 10)):
        print(f"-- {title}")
        for key, count in counter.most_common(limit):
            print(f"  {100 * count / total:5.1f} %  {key}")
    print("-- by the code that asked (innermost frame of the binary's own code), and kind")
    for (code, kind), count in by_code.most_common(top):
        print(f"  {100 * count / total:5.1f} %  {code}  [{kind}]")


def callers(samples, demangle, pattern, depth):
    total = len(samples)
    counter, matched = collections.Counter(), 0
    for _, frames in samples:
        names = [demangle(symbol) for symbol, _ in frames]
        hits = [index for index, name in enumerate(names) if pattern in name]
        if not hits:
            continue
        matched += 1
        outer = hits[-1]
        counter[" <- ".join(names[outer + 1:outer + 1 + depth]) or "?"] += 1
    print(f"{pattern}: {100 * matched / total:.1f} % of {total} allocations")
    for chain, count in counter.most_common(40):
        print(f"  {100 * count / total:5.1f} %  {chain}")


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quietly, when piped into `head`
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("census")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--callers")
    parser.add_argument("--depth", type=int, default=1)
    arguments = parser.parse_args()
    samples = load(arguments.census)
    if not samples:
        raise SystemExit(f"alloc-census.py: no allocations in {arguments.census}")
    demangle = demangler(samples)
    if arguments.callers:
        callers(samples, demangle, arguments.callers, arguments.depth)
    else:
        summary(samples, demangle, arguments.top)


if __name__ == "__main__":
    main()
