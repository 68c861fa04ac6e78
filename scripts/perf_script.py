"""Reading `perf script -F comm,ip,sym,dso` output, shared by scripts/profile-shares.py and
scripts/alloc-census.py."""
import re
import subprocess
import sys

FRAME = re.compile(r"^\s*[0-9a-f]+ (.*?)(?: \(([^)]*)\))?$")


def load(path):
    """Each sample as (thread, [(symbol, library), ...]), the innermost frame first.

    `symbol` has no `+0x…` offset; `library` is the file name of the frame's object (`skald`,
    `libswiftCore.so`), `[unknown]` when perf could not tell, `?` when the line named none.
    """
    samples, thread, frames = [], None, []
    with open(path, errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line.strip():
                if thread is not None:
                    samples.append((thread, frames))
                thread, frames = None, []
            elif not line[0].isspace():
                if thread is not None:
                    samples.append((thread, frames))
                thread, frames = line.split()[0], []
            else:
                match = FRAME.match(line)
                if match:
                    symbol = match.group(1).split("+0x")[0]
                    frames.append((symbol, (match.group(2) or "?").rsplit("/", 1)[-1]))
    if thread is not None:
        samples.append((thread, frames))
    return samples


def demangled(symbols):
    """`swift demangle --simplified` of each symbol, without argument lists: {symbol: name}.
    Without `swift` on PATH the symbols stay as they are."""
    names = sorted(set(symbols))
    try:
        result = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(names),
                                capture_output=True, text=True, check=True)
    except (FileNotFoundError, subprocess.CalledProcessError):
        print("`swift demangle` is not available; symbols stay mangled", file=sys.stderr)
        return {name: name for name in names}
    return {name: re.sub(r"\(.*", "", text).strip() for name, text in zip(names, result.stdout.split("\n"))}
