"""The man pages and bash completions against the commands' --help: every option a subcommand's
--help lists is in the page's section for it (.SS "CMD SUB") and in the completion script, and
every option the page lists there exists. Exit 0 pass, 1 fail (each difference on one line).

usage: man_test.py COMMAND MAN_PAGE COMPLETION SUBCOMMAND..."""
import re
import subprocess
import sys

OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def block(text, heading):
    """The lines of CLI11's "HEADING:" block (also in capitals), up to the next heading or the
    footer: the lines that start with a blank."""
    lines, inside = [], False
    for line in text.splitlines():
        if re.match(r"^(" + heading + "|" + heading.upper() + "):", line):
            inside = True
        elif inside and re.match(r"^\S", line):
            inside = False
        elif inside:
            lines.append(line)
    return lines


def help_options(command, sub):
    argv = [command] + ([sub] if sub else []) + ["--help"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(argv)} exited {r.returncode}: {r.stderr.strip()}")
    # One option per line of the "Options:" block that starts with blanks and a dash.
    options = set()
    for line in block(r.stdout, "Options"):
        if re.match(r"^\s+-", line):
            names = line.strip().split("  ")[0]   # "-c,--rules FILE" before the description
            options.update(OPTION.findall(names.split(" ")[0]))
    if not options:
        raise SystemExit(f"FAIL: no options found in `{' '.join(argv)}` (format changed?):\n{r.stdout}")
    return options


def help_subcommands(command):
    """The subcommands the command's own --help lists (CLI11's "Subcommands:" block)."""
    r = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=30)
    return [line.split()[0] for line in block(r.stdout, "Subcommands") if re.match(r"^\s+[a-z]", line)]


def man_options(page, title):
    """Options on the .TP tag lines of the section .SS "TITLE"."""
    text = open(page, encoding="utf-8").read()
    m = re.search(r'^\.SS "' + re.escape(title) + r'"\n(.*?)(?=^\.S[SH] )', text, re.M | re.S)
    if not m:
        return None
    options, lines = set(), m.group(1).splitlines()
    for i, line in enumerate(lines):
        if line == ".TP" and i + 1 < len(lines):
            tag = lines[i + 1].replace("\\-", "-")
            options.update(OPTION.findall(re.sub(r"\\f[BIRP]", " ", tag)))
    return options


def main():
    command, page, completion, subs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    name = command.rsplit("/", 1)[-1]
    completion_text = open(completion, encoding="utf-8").read()
    problems = []
    # A subcommand added to the command must be added to this test's list (and so to the page and
    # the completion), and back.
    listed = help_subcommands(command)
    for sub in sorted(set(listed) - set(subs)):
        problems.append(f"`{name} --help` has subcommand {sub}, which this test is not given (tests/install/meson.build)")
    for sub in sorted(set(subs) - set(listed)):
        problems.append(f"this test is given subcommand {sub}, which `{name} --help` does not list")
    for sub in listed:
        if not re.search(r"(?<![\w-])" + re.escape(sub) + r"(?![\w-])", completion_text):
            problems.append(f"{completion}: lacks the subcommand {sub}")
    for sub in [""] + subs:
        title = f"{name} {sub}".strip()
        want = help_options(command, sub)
        got = man_options(page, title)
        if got is None:
            problems.append(f"{page}: no section .SS \"{title}\"")
            continue
        for o in sorted(want - got):
            problems.append(f"{page}: section \"{title}\" lacks {o} (in `{title} --help`)")
        for o in sorted(got - want):
            problems.append(f"{page}: section \"{title}\" lists {o}, which `{title} --help` does not have")
        for o in sorted(want - {"-h"}):
            if not re.search(r"(?<![\w-])" + re.escape(o) + r"(?![\w-])", completion_text):
                problems.append(f"{completion}: lacks {o} of `{title} --help`")
        print(f"{title}: {len(want)} options, page and completion checked")
    for p in problems:
        print("FAIL: " + p)
    sys.exit(1 if problems else 0)


main()
