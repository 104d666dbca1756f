#!/usr/bin/env python3
"""memfd-warden installs like a real tool.

- `cmake --install` into a fresh prefix puts every file where it belongs, and the installed binary
  runs;
- the man pages render without a warning and document every command and option `--help` shows
  (memfd-warden.1) and every key the policy parser accepts (memfd-warden-policy.5);
- the bash completion, run in bash, offers every command, every option of each, and the choices
  of options that take one; the zsh completion parses and names the same options and choices;
- the systemd units start the agent on the socket its --socket names;
- CPack builds a .deb that holds the same files under /usr, and whose Depends name the package of
  every shared library the binary loads;
- that .deb installs into a clean root, where memfd-warden probe runs, and one program is
  sandboxed by an installed sample policy (clean_root_install.sh says how the root is made).

Usage: check_install.py BUILD_DIR SOURCE_DIR
"""
import gzip
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAILED: " + what, file=sys.stderr)
    return condition


EXPECTED = [
    "bin/memfd-warden",
    "share/man/man1/memfd-warden.1.gz",
    "share/man/man5/memfd-warden-policy.5.gz",
    "share/bash-completion/completions/memfd-warden",
    "share/zsh/vendor-completions/_memfd-warden",
    "share/doc/memfd-warden/README.md",
    "share/doc/memfd-warden/policy.md",
    "share/doc/memfd-warden/containers.md",
    "share/doc/memfd-warden/examples/deny-by-name.toml",
    "share/doc/memfd-warden/examples/memory-quota.toml",
    "lib/systemd/system/memfd-warden-agent.service",
    "lib/systemd/system/memfd-warden-agent.socket",
]


def help_of(warden, *command):
    return subprocess.run([warden, *command, "--help"], capture_output=True, text=True).stdout


def commands_and_options(warden):
    """{command: {option: [choices]}} from --help: what the man page and completions must know."""
    top = help_of(warden)
    commands = re.findall(r"^  ([a-z][a-z-]+)\s", top.split("Subcommands:")[1], re.M)
    table = {}
    for command in commands:
        options = {}
        for match in re.finditer(r"^\s+(?:-h,)?(--[a-z][a-z-]*)(?: (\S+))?", help_of(warden, command), re.M):
            name, rest = match.group(1), match.group(2) or ""
            choices = re.search(r"\{([^}]*)\}", rest)
            if name != "--help":
                options[name] = choices.group(1).split(",") if choices else []
        table[command] = options
    return table


def check_prefix_install(build, prefix):
    result = subprocess.run(["cmake", "--install", str(build), "--prefix", str(prefix)],
                            capture_output=True, text=True)
    check(result.returncode == 0, f"cmake --install: {result.stderr.strip()}")
    for path in EXPECTED:
        check((prefix / path).is_file(), f"installed: {path}")
    version = subprocess.run([prefix / "bin/memfd-warden", "--version"], capture_output=True,
                             text=True)
    check(version.returncode == 0 and "memfd-warden" in version.stdout,
          "the installed binary runs")
    return sorted(str(p.relative_to(prefix)) for p in prefix.rglob("*") if p.is_file())


def check_man_pages(prefix, warden, table):
    for page in ["man1/memfd-warden.1.gz", "man5/memfd-warden-policy.5.gz"]:
        path = prefix / "share/man" / page
        rendered = subprocess.run(["man", "--warnings", "-l", str(path)], capture_output=True,
                                  text=True, env={**os.environ, "MANWIDTH": "80"})
        check(rendered.returncode == 0 and rendered.stdout.strip(), f"{page} renders")
        check(rendered.stderr.strip() == "", f"{page} renders without warnings: {rendered.stderr}")
    source = gzip.decompress((prefix / "share/man/man1/memfd-warden.1.gz").read_bytes()).decode()
    for command, options in table.items():
        check(re.search(rf"^\.B {re.escape(command)}\b", source, re.M),
              f"memfd-warden.1 describes the command {command}")
        for option, choices in options.items():
            escaped = option.replace("-", r"\-")
            check(escaped in source, f"memfd-warden.1 documents {command} {option}")
            for choice in choices:
                check(re.search(rf"\b{re.escape(choice)}\b", source),
                      f"memfd-warden.1 names {option}'s choice {choice}")
    # The policy keys, as the parser lists them when it meets an unknown key.
    policy_page = gzip.decompress(
        (prefix / "share/man/man5/memfd-warden-policy.5.gz").read_bytes()).decode()
    with tempfile.TemporaryDirectory() as tmp:
        for where, text in [("top", "version = 1\nbogus = 1\n"),
                            ("quota", "version = 1\n[quota]\nbogus = 1\n"),
                            ("rule", "version = 1\n[[rule]]\naction = \"allow\"\nbogus = 1\n")]:
            path = pathlib.Path(tmp) / f"{where}.toml"
            path.write_text(text)
            err = subprocess.run([warden, "check", str(path)], capture_output=True,
                                 text=True).stderr
            known = re.search(r"known keys: ([^)]*)\)", err)
            if not check(known, f"the parser lists the known keys of {where}: {err}"):
                continue
            for key in known.group(1).split(", "):
                # A key that is a table is documented as its header: [quota], [[rule]].
                check(re.search(rf"^\.B (\[|\[\[)?{re.escape(key)}(\]|\]\])?$", policy_page, re.M),
                      f"memfd-warden-policy.5 documents {where} key {key}")


def bash_complete(completion, words):
    """COMPREPLY of the installed bash completion for `words` (the last is being completed)."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (f"source '{completion}'\nCOMP_WORDS=({quoted})\nCOMP_CWORD={len(words) - 1}\n"
              "COMP_LINE=\"${COMP_WORDS[*]}\"\nCOMP_POINT=${#COMP_LINE}\n"
              "_memfd_warden memfd-warden\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                         text=True)
    return set(out.stdout.split())


def check_completions(prefix, table):
    bash = prefix / "share/bash-completion/completions/memfd-warden"
    offered = bash_complete(bash, ["memfd-warden", ""])
    check(set(table) <= offered, f"bash offers every command ({set(table) - offered} missing)")
    for command, options in table.items():
        offered = bash_complete(bash, ["memfd-warden", command, "--"])
        check(set(options) <= offered,
              f"bash offers every option of {command} ({set(options) - offered} missing)")
        check(offered <= set(options) | {"--help", "--"},
              f"bash offers only options {command} has ({offered - set(options)})")
        for option, choices in options.items():
            if choices:
                got = bash_complete(bash, ["memfd-warden", command, option, ""])
                check(got == set(choices), f"bash offers {command} {option}'s choices "
                                           f"({sorted(got)} != {sorted(choices)})")
    files = bash_complete(bash, ["memfd-warden", "check", str(prefix / "share/doc/memfd-warden/examples/deny")])
    check(str(prefix / "share/doc/memfd-warden/examples/deny-by-name.toml") in files,
          "bash completes a policy file for check")
    programs = bash_complete(bash, ["memfd-warden", "run", "--dry-run", "--", "pytho"])
    check("python3" in programs, "bash completes the program after run --")

    zsh_file = prefix / "share/zsh/vendor-completions/_memfd-warden"
    text = zsh_file.read_text()
    zsh = shutil.which("zsh")
    if check(zsh, "zsh is installed (.ci/install-deps installs it) to check the zsh completion"):
        parsed = subprocess.run([zsh, "-n", str(zsh_file)], capture_output=True, text=True)
        check(parsed.returncode == 0, f"the zsh completion parses: {parsed.stderr}")
    for command, options in table.items():
        check(f"'{command}:" in text, f"zsh describes the command {command}")
        for option, choices in options.items():
            check(re.search(rf"{re.escape(option)}\[", text), f"zsh knows {command} {option}")
            if choices:
                check(f"({' '.join(choices)})" in text or "($log_levels)" in text
                      and option == "--log-level", f"zsh offers {option}'s choices")


def check_units(prefix):
    units = prefix / "lib/systemd/system"
    socket = (units / "memfd-warden-agent.socket").read_text()
    service = (units / "memfd-warden-agent.service").read_text()
    listen = re.search(r"^ListenStream=(\S+)$", socket, re.M)
    start = re.search(r"^ExecStart=(.*)$", service, re.M)
    check(listen and start, "the socket listens on a path and the service has an ExecStart")
    if listen and start:
        argv = start.group(1).split()
        check(argv[0] == str(prefix / "bin/memfd-warden") and argv[1] == "agent",
              f"the service runs the installed memfd-warden agent ({argv[:2]})")
        check(argv[argv.index("--socket") + 1] == listen.group(1),
              "the service's --socket is the socket unit's ListenStream")


def check_package(build, source, installed):
    made = subprocess.run(["cpack", "-G", "DEB"], cwd=build, capture_output=True, text=True)
    check(made.returncode == 0, f"cpack -G DEB: {made.stderr.strip()}")
    debs = sorted(build.glob("memfd-warden_*.deb"))
    if not check(debs, "cpack made memfd-warden_*.deb"):
        return None
    deb = debs[-1]
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True).stdout
    in_deb = sorted(line.split()[-1][len("./usr/"):] for line in listing.splitlines()
                    if not line.startswith("d"))
    check(in_deb == installed, f"the .deb holds the installed files under /usr "
                               f"({set(in_deb) ^ set(installed)})")
    depends = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True,
                             text=True).stdout
    packages = {d.strip().split()[0] for d in depends.split(",") if d.strip()}
    ldd = subprocess.run(["ldd", str(build / "supervisor/memfd-warden")], capture_output=True,
                         text=True).stdout
    for lib in re.findall(r"=> (/\S+)", ldd):
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(lib)], capture_output=True,
                               text=True)
        if owner.returncode != 0:
            owner = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        package = owner.stdout.split(":")[0]
        # A dependency may name the package or a virtual one it provides (libspdlog1.10-fmt9).
        provides = subprocess.run(["dpkg-query", "-W", "-f=${Provides}", package],
                                  capture_output=True, text=True).stdout
        names = {package} | {p.strip().split()[0] for p in provides.split(",") if p.strip()}
        check(names & packages, f"Depends names {package} (or what it provides), which holds "
                                f"{lib} ({depends})")
    return deb


def main():
    build, source = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    warden = str(build / "supervisor/memfd-warden")
    table = commands_and_options(warden)
    check(len(table) >= 9 and "--fail-on-deny" in table.get("run", {}),
          f"--help lists the commands and run's options ({list(table)})")
    with tempfile.TemporaryDirectory() as tmp:
        prefix = pathlib.Path(tmp) / "prefix"
        installed = check_prefix_install(build, prefix)
        check_man_pages(prefix, warden, table)
        check_completions(prefix, table)
        check_units(prefix)
        deb = check_package(build, source, installed)
    if deb:
        root = subprocess.run(["unshare", "-m", str(source / "tests/install/clean_root_install.sh"),
                               str(deb)], capture_output=True, text=True)
        sys.stderr.write(root.stderr)
        check(root.returncode == 0, "the .deb installs into a clean root and works there")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
