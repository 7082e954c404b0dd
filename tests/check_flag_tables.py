#!/usr/bin/python3
"""The flag tables in the READMEs stay what the binaries say.

Each service README has a table of its own flags (`| `--name` | `default` |
meaning |`) and docs/operations.md one of the flags every gRPC service
shares. This reads each binary's --helpfull and fails when a table names a
flag the binary lacks, gives another default, or leaves out a flag the
binary's main.cc (or, for the shared table, server/) defines.

    tests/check_flag_tables.py SOURCE_DIR BIN_DIR
    tests/check_flag_tables.py --self-test
"""
import pathlib
import re
import subprocess
import sys
import tempfile

SERVICES = ["detector", "overlay", "storage", "gateway"]
ROW = re.compile(r"^\|\s*`--([a-z0-9_]+)`\s*\|\s*([^|]*?)\s*\|")
HELP_FLAG = re.compile(r"^    --([a-z0-9_]+) \(.*\); default: (.*);$")


def help_flags(binary):
    """{file: {flag: default}} from `binary --helpfull`."""
    text = subprocess.run([binary, "--helpfull"], capture_output=True, text=True,
                          timeout=60).stdout
    by_file = {}
    for section in re.split(r"\n  Flags from ", text)[1:]:
        source, _, body = section.partition(":\n")
        flags = {}
        # Join continuation lines so each flag is one line.
        joined = re.sub(r"\n      ", " ", body)
        for line in joined.splitlines():
            m = HELP_FLAG.match(line)
            if m:
                flags[m.group(1)] = normalise(m.group(2))
        by_file[source.strip()] = flags
    return by_file


def normalise(default):
    """A default as text: the first `quoted` part of a table cell, without
    string quotes; "none" and "(none)" in a table mean empty."""
    default = default.strip()
    quoted = re.match(r"^`([^`]*)`", default)
    if quoted:
        default = quoted.group(1)
    if len(default) >= 2 and default[0] == default[-1] == '"':
        default = default[1:-1]
    return "" if default in ("none", "(none)") else default


def table_flags(markdown):
    """({flag: default} from `| flag | default |` tables, {every flag named in
    the first cell of any table row}). A default cell that is prose rather than
    a `quoted` value (a different port per service, say) is not compared."""
    defaults, named = {}, set()
    default_table = False
    for line in markdown.read_text().splitlines():
        if not line.startswith("|"):
            default_table = False
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] == "flag":
            default_table = cells[1] == "default"
            continue
        named.update(re.findall(r"`--([a-z0-9_]+)`", cells[0]))
        m = ROW.match(line)
        if m and default_table and m.group(2).startswith("`"):
            defaults[m.group(1)] = normalise(m.group(2))
    return defaults, named


def compare(where, table, actual, required):
    """Problems between a document's tables and the flags a binary defines."""
    documented, named = table
    problems = []
    for name in sorted(named):
        if name not in actual:
            problems.append(f"{where}: --{name} is not a flag of the binary")
    for name, default in documented.items():
        if name in actual and default != actual[name]:
            problems.append(f"{where}: --{name} defaults to '{actual[name]}', "
                            f"not '{default}' as the table says")
    for name in sorted(required):
        if name not in named:
            problems.append(f"{where}: --{name} is missing from the table")
    return problems


def flags_of(by_file, part):
    """The flags defined in sources whose path contains `part`."""
    merged = {}
    for source, flags in by_file.items():
        if part in source:
            merged.update(flags)
    return merged


def check(source_dir, bin_dir):
    problems = []
    shared, backend = None, None
    for service in SERVICES:
        by_file = help_flags(str(bin_dir / f"stache-{service}"))
        own = flags_of(by_file, f"{service}/main.cc")
        if not own:
            problems.append(f"stache-{service} --helpfull lists no flags from main.cc")
        everything = {}
        for flags in by_file.values():
            everything.update(flags)
        readme = source_dir / service / "README.md"
        problems += compare(str(readme.relative_to(source_dir)), table_flags(readme),
                            everything, own)
        if service != "gateway" and shared is None:
            shared, backend = flags_of(by_file, "server/"), everything
    # Every gRPC service's flags: those of server/ (TLS, limits, ...) must be
    # there; a backend's own (--port, --admin_port) may be.
    operations = source_dir / "docs" / "operations.md"
    problems += compare("docs/operations.md", table_flags(operations), backend or {},
                        shared or {})
    return problems


def self_test():
    with tempfile.TemporaryDirectory() as scratch:
        readme = pathlib.Path(scratch) / "README.md"
        readme.write_text("| flag | default | meaning |\n|---|---|---|\n"
                          "| `--port` | `50051` | x |\n| `--ghost` | `1` | y |\n"
                          "| `--size` | `2` | z |\n| `--port` | per service | w |\n")
        actual = {"port": "50051", "size": "3", "hidden": "0"}
        problems = compare("README.md", table_flags(readme), actual, {"port", "hidden"})
    expected = ["--ghost is not a flag", "--size defaults to '3'", "--hidden is missing"]
    for part in expected:
        if not any(part in p for p in problems):
            print(f"flag tables: the check misses '{part}': it is broken", file=sys.stderr)
            return 1
    if len(problems) != len(expected):
        print(f"flag tables: unexpected problems: {problems}", file=sys.stderr)
        return 1
    print("flag tables: the check catches a missing flag, a wrong default and an "
          "unknown flag")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    source_dir, bin_dir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    problems = check(source_dir, bin_dir)
    for problem in problems:
        print(f"flag tables: {problem}", file=sys.stderr)
    if not problems:
        print("flag tables: every table matches its binary's --helpfull")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
