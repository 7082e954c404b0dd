#!/usr/bin/python3
"""Fails on a dead relative link in the project's Markdown files.

    tests/check_links.py [ROOT]      # default: the repository
    tests/check_links.py --self-test

Checks every [text](target) whose target is not a URL: the file or folder
must exist, and a #fragment must name a heading of the target (GitHub's
anchors: lower case, punctuation dropped, spaces to hyphens).
"""
import os
import re
import sys
import tempfile

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
SKIPPED_DIRS = {".git", "third_party", "node_modules"}


def anchors(path):
    found = set()
    in_code = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                in_code = not in_code
            if in_code or not line.startswith("#"):
                continue
            title = line.lstrip("#").strip().lower()
            title = re.sub(r"[^\w\- ]", "", title)
            found.add(title.replace(" ", "-"))
    return found


def markdown_files(root):
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("build")]
        for name in files:
            if name.endswith(".md"):
                yield os.path.join(directory, name)


def dead_links(root):
    dead = []
    for path in sorted(markdown_files(root)):
        in_code = False
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.startswith("```"):
                    in_code = not in_code
                if in_code:
                    continue
                for target in LINK.findall(line):
                    if re.match(r"^[a-z]+:", target):
                        continue  # http:, https:, mailto:
                    file_part, _, fragment = target.partition("#")
                    resolved = (os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                                if file_part else path)
                    where = f"{os.path.relpath(path, root)}:{number}: {target}"
                    if not os.path.exists(resolved):
                        dead.append(f"{where} (no such file)")
                    elif fragment and resolved.endswith(".md") and fragment not in anchors(resolved):
                        dead.append(f"{where} (no such heading)")
    return dead


def self_test():
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "docs"))
        with open(os.path.join(root, "docs", "a.md"), "w") as f:
            f.write("# A page\n\n## Some section: here\n")
        with open(os.path.join(root, "README.md"), "w") as f:
            f.write("[ok](docs/a.md) [ok](docs/a.md#some-section-here) [web](https://x.y/z)\n"
                    "```\n[in code](nowhere.md)\n```\n")
        assert dead_links(root) == [], dead_links(root)
        with open(os.path.join(root, "README.md"), "a") as f:
            f.write("[gone](docs/b.md) [bad](docs/a.md#missing)\n")
        dead = dead_links(root)
        assert len(dead) == 2 and "no such file" in dead[0] and "no such heading" in dead[1], dead
    print("check_links: self-test passed (a dead file and a dead heading are caught)")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    dead = dead_links(os.path.abspath(root))
    for line in dead:
        print(line, file=sys.stderr)
    if dead:
        print(f"check_links: {len(dead)} dead link(s)", file=sys.stderr)
        return 1
    print("check_links: every relative link resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
