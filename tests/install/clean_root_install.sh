#!/bin/sh
# Installs DEB into a clean root and uses memfd-warden from the installed files only.
#
# The root: an overlay of this machine's root filesystem (its libraries and dpkg database, so
# dpkg checks the package's dependencies against what is really installed), with every place a
# build or a copy of memfd-warden could be (/work, /tmp, /root, /home, /usr/local, /opt) hidden
# under empty tmpfs, in a private mount namespace, entered with chroot. Run as root, through
# `unshare -m`. Exit 0 when every step passed; each failure is named on stderr.
set -u
deb=$1
scratch=$(mktemp -d)
trap 'umount -lR "$scratch" 2>/dev/null; rm -rf "$scratch"' EXIT
failures=0
fail() { echo "FAILED: $*" >&2; failures=$((failures + 1)); }

mount --make-rprivate / || exit 1
mount -t tmpfs none "$scratch" || exit 1
mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
root=$scratch/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$scratch/upper,workdir=$scratch/work" "$root" \
  || { echo "cannot make the overlay root" >&2; exit 1; }
for hidden in work tmp root home usr/local opt; do
  [ -d "$root/$hidden" ] && mount -t tmpfs none "$root/$hidden"
done
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
mkdir -p "$root/tmp/in" && cp "$deb" "$root/tmp/in/memfd-warden.deb"
chrooted() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }

chrooted sh -c 'command -v memfd-warden' >/dev/null && fail "memfd-warden is already in the root"
chrooted sh -c 'dpkg -s memfd-warden' >/dev/null 2>&1 && fail "dpkg already knows memfd-warden"
chrooted dpkg -i /tmp/in/memfd-warden.deb >"$scratch/dpkg.log" 2>&1 \
  || { cat "$scratch/dpkg.log" >&2; fail "dpkg -i memfd-warden.deb"; }
[ "$(chrooted sh -c 'command -v memfd-warden')" = /usr/bin/memfd-warden ] \
  || fail "memfd-warden is /usr/bin/memfd-warden in the root"

# probe: a backend can run here.
chrooted memfd-warden probe >"$scratch/probe.log" 2>&1 || { cat "$scratch/probe.log" >&2; fail "memfd-warden probe"; }
grep -q "^auto backend: " "$scratch/probe.log" || { cat "$scratch/probe.log" >&2; fail "probe names the backend auto picks"; }

# One sandboxed program, under an installed sample policy: python3 asks for a memfd named
# "payload-1", which deny-by-name.toml refuses with EACCES (13); the control run without
# memfd-warden gets its memfd. The program prints the errno it saw.
create='import os, sys
try:
    os.memfd_create("payload-1")
    print(0)
except OSError as e:
    print(e.errno)'
control=$(chrooted python3 -c "$create")
[ "$control" = 0 ] || fail "control: python3 makes its memfd without memfd-warden (got $control)"
sandboxed=$(chrooted memfd-warden run --audit /tmp/in/audit.jsonl \
  --policy /usr/share/doc/memfd-warden/examples/deny-by-name.toml -- python3 -c "$create")
[ "$sandboxed" = 13 ] || fail "under deny-by-name.toml python3 gets EACCES (got $sandboxed)"
grep -q '"rule":{"index":0,"id":"payload-names"}' "$root/tmp/in/audit.jsonl" \
  || fail "the audit names the rule that refused"
chrooted memfd-warden verify /tmp/in/audit.jsonl >/dev/null || fail "the audit verifies"

# The man pages, the completions and the units are where the tools look for them.
[ "$(chrooted man -w memfd-warden)" = /usr/share/man/man1/memfd-warden.1.gz ] || fail "man -w memfd-warden"
[ "$(chrooted man -w 5 memfd-warden-policy)" = /usr/share/man/man5/memfd-warden-policy.5.gz ] \
  || fail "man -w 5 memfd-warden-policy"
[ -f "$root/usr/share/bash-completion/completions/memfd-warden" ] || fail "bash completion installed"
[ -f "$root/usr/share/zsh/vendor-completions/_memfd-warden" ] || fail "zsh completion installed"
if chrooted sh -c 'command -v systemd-analyze' >/dev/null; then
  chrooted systemd-analyze verify /usr/lib/systemd/system/memfd-warden-agent.socket \
    /usr/lib/systemd/system/memfd-warden-agent.service >"$scratch/verify.log" 2>&1 \
    || { cat "$scratch/verify.log" >&2; fail "systemd-analyze verify of the agent's units"; }
else
  fail "systemd-analyze is in the root (apt-get install systemd)"
fi

# Removal leaves nothing of the package behind.
chrooted dpkg -L memfd-warden >"$scratch/files" 2>/dev/null
chrooted dpkg -r memfd-warden >"$scratch/dpkg.log" 2>&1 || { cat "$scratch/dpkg.log" >&2; fail "dpkg -r"; }
while read -r file; do
  [ -f "$root$file" ] && fail "dpkg -r left $file"
done <"$scratch/files"

exit $((failures != 0))
