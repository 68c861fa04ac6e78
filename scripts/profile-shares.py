#!/usr/bin/env python3
"""Shares of perf samples by function, for one profile or two side by side.

    scripts/profile-shares.py A.txt [B.txt] PATTERN...
    scripts/profile-shares.py --top 40 A.txt

A.txt and B.txt are `perf script -F comm,ip,sym,dso` output (scripts/profile.sh writes them).
For each PATTERN it prints the share of all samples whose stack holds a function whose
demangled name contains PATTERN; `leaf:PATTERN` counts only samples taken in such a function
itself (`leaf:swift_retain` is the CPU of retains, wherever they come from). Postgres's and
the idle loop's samples count in the total but never match. "Everything but Postgres and idle"
is the benchmark's process plus whatever else ran (perf samples every process; on a machine
left to the benchmark that is little). `--top N` lists the N functions
on the most stacks of the process's threads.

Symbols are demangled with `swift demangle --simplified`, so the names are those of the
source: `ProducerCore.produce`, `initializeWithCopy for KafkaMessage`.
"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import perf_script  # noqa: E402

OUTSIDE = ("postgres", "swapper")


def load(path):
    """The samples of a `perf script` file: (command, [frame, ...]) with the leaf first."""
    return [(command, [symbol for symbol, _ in frames]) for command, frames in perf_script.load(path)]


def demangler(samples_list):
    return perf_script.demangled(frame for samples in samples_list for _, frames in samples for frame in frames)


def shares(samples, names, patterns):
    counts = collections.Counter()
    process = 0
    for command, frames in samples:
        if command in OUTSIDE:
            continue
        process += 1
        stack = {names.get(frame, frame) for frame in frames}
        leaf = names.get(frames[0], frames[0]) if frames else ""
        for pattern in patterns:
            if pattern.startswith("leaf:"):
                if pattern[5:] in leaf:
                    counts[pattern] += 1
            elif any(pattern in frame for frame in stack):
                counts[pattern] += 1
    total = max(len(samples), 1)
    return 100 * process / total, {pattern: 100 * counts[pattern] / total for pattern in patterns}


def top(samples, names, count):
    counts = collections.Counter()
    for command, frames in samples:
        if command in OUTSIDE:
            continue
        for name in {names.get(frame, frame) for frame in frames}:
            counts[name] += 1
    total = max(len(samples), 1)
    for name, hits in counts.most_common(count):
        print(f"{100 * hits / total:7.2f} %  {name[:110]}")


def main(arguments):
    if arguments[:1] == ["--top"]:
        if len(arguments) != 3 or not arguments[1].isdigit() or not os.path.isfile(arguments[2]):
            print("usage: profile-shares.py --top N PROFILE.txt", file=sys.stderr)
            return 2
        samples = load(arguments[2])
        top(samples, demangler([samples]), int(arguments[1]))
        return 0
    # One or two profiles (files that exist), then the patterns.
    files = []
    for argument in arguments[:2]:
        if not os.path.isfile(argument):
            break
        files.append(argument)
    patterns = arguments[len(files):]
    if not files or not patterns:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    profiles = [load(path) for path in files]
    names = demangler(profiles)
    results = [shares(samples, names, patterns) for samples in profiles]
    width = max(len(pattern) for pattern in patterns + ["everything but Postgres and idle"])
    print(f"{'share of all samples':{width}s}" + "".join(f"  {path[-14:]:>14s}" for path in files))
    print(f"{'everything but Postgres and idle':{width}s}" + "".join(f"  {process:12.2f} %" for process, _ in results))
    for pattern in patterns:
        print(f"{pattern:{width}s}" + "".join(f"  {found[pattern]:12.2f} %" for _, found in results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
