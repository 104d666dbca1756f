#!/usr/bin/env python3
"""Checks the Kubernetes manifests (samples/deploy/kubernetes) against memfd-warden itself.

No cluster runs here, so this holds what can be held without one: the YAML parses into the
objects the docs describe; every policy in the ConfigMap passes `memfd-warden check`; every
Localhost profile is exactly what `memfd-warden oci-profile` prints for its policy, with the
agent's socket as listenerPath; the DaemonSet's mounts hold the socket, the policies and the
profiles where its arguments and the pod expect them; and an agent started with the DaemonSet's
own arguments (its paths moved into a temp dir) comes up and serves its socket.

Usage: check_kubernetes.py MEMFD_WARDEN MANIFEST_DIR
"""
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time

import yaml

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAILED: " + what, file=sys.stderr)


def main():
    warden, manifests = sys.argv[1], pathlib.Path(sys.argv[2])
    docs = list(yaml.safe_load_all((manifests / "daemonset.yaml").read_text()))
    kinds = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    check(("Namespace", "memfd-warden") in kinds, "the namespace memfd-warden is declared")
    for d in docs:
        if d["kind"] != "Namespace":
            check(d["metadata"].get("namespace") == "memfd-warden",
                  f"{d['kind']} {d['metadata']['name']} lives in memfd-warden")
    policies = kinds[("ConfigMap", "memfd-warden-policies")]["data"]
    profiles = kinds[("ConfigMap", "memfd-warden-profiles")]["data"]
    daemonset = kinds[("DaemonSet", "memfd-warden-agent")]
    pod_spec = daemonset["spec"]["template"]["spec"]
    check(daemonset["spec"]["selector"]["matchLabels"].items()
          <= daemonset["spec"]["template"]["metadata"]["labels"].items(),
          "the DaemonSet's selector matches its pods")
    check(pod_spec.get("hostPID") is True, "the agent runs in the host's PID namespace")
    agent = next(c for c in pod_spec["containers"] if c["name"] == "agent")
    check(agent["securityContext"].get("privileged") is True, "the agent is privileged")
    args = agent["args"]
    check(agent["command"] == ["memfd-warden"] and args[0] == "agent", "the container runs the agent")
    option = {args[i]: args[i + 1] for i in range(1, len(args) - 1, 2)}
    socket_path = option["--socket"]

    with tempfile.TemporaryDirectory() as temp:
        temp = pathlib.Path(temp)
        policy_dir = temp / "policies"
        policy_dir.mkdir()
        for name, text in policies.items():
            (policy_dir / name).write_text(text)
            run = subprocess.run([warden, "check", str(policy_dir / name)], capture_output=True,
                                 text=True)
            check(run.returncode == 0, f"policy {name} passes memfd-warden check: {run.stderr}")

        # Each profile is what oci-profile prints for the policy its metadata names.
        for name, text in profiles.items():
            profile = json.loads(text)
            metadata = profile.get("listenerMetadata", "")
            chosen = [line.split("=", 1)[1] for line in metadata.splitlines()
                      if line.startswith("policy=")]
            policy = chosen[0] if chosen else "default"
            command = [warden, "oci-profile", "--socket", socket_path, "--policy",
                       str(policy_dir / (policy + ".toml"))]
            if metadata:
                command += ["--metadata", metadata]
            printed = subprocess.run(command, capture_output=True, text=True)
            check(printed.returncode == 0, f"oci-profile for {name}: {printed.stderr}")
            check(printed.returncode == 0 and json.loads(printed.stdout) == profile,
                  f"profile {name} is what `memfd-warden oci-profile` prints for policy {policy}")
            check(profile["listenerPath"] == socket_path, f"profile {name} names the agent's socket")

        # The mounts put the socket, policies and audit where the arguments say.
        mounts = {m["name"]: m["mountPath"] for m in agent["volumeMounts"]}
        volumes = {v["name"]: v for v in pod_spec["volumes"]}
        socket_volume = next(n for n, p in mounts.items() if p == os.path.dirname(socket_path))
        check(volumes[socket_volume]["hostPath"]["path"] == os.path.dirname(socket_path),
              "the socket's directory is the same path on the host, where runtimes connect")
        policy_volume = next(n for n, p in mounts.items() if p == option["--policy-dir"])
        check(volumes[policy_volume]["configMap"]["name"] == "memfd-warden-policies",
              "--policy-dir is the policies ConfigMap")
        check(option["--policy"] == option["--policy-dir"] + "/default.toml",
              "--policy is the ConfigMap's default.toml")
        check(any(p == os.path.dirname(option["--audit"]) for p in mounts.values()),
              "the audit file's directory is mounted")
        install = pod_spec["initContainers"][0]
        install_mounts = {m["name"]: m["mountPath"] for m in install["volumeMounts"]}
        check(volumes["kubelet-seccomp"]["hostPath"]["path"] == "/var/lib/kubelet/seccomp",
              "profiles go to the kubelet's seccomp directory")
        check(install_mounts["kubelet-seccomp"] + "/profiles/" in " ".join(install["command"]),
              "the init container copies into <kubelet seccomp>/profiles/")
        check(volumes["profiles"]["configMap"]["name"] == "memfd-warden-profiles",
              "the init container copies the profiles ConfigMap")

        # The example pod selects a profile the DaemonSet installs.
        pod = yaml.safe_load((manifests / "pod.yaml").read_text())
        for container in pod["spec"]["containers"]:
            chosen = container["securityContext"]["seccompProfile"]
            check(chosen["type"] == "Localhost", "the pod uses a Localhost profile")
            check(chosen["localhostProfile"].startswith("profiles/") and
                  chosen["localhostProfile"][len("profiles/"):] in profiles,
                  f"the pod's profile {chosen['localhostProfile']} is installed")

        # The agent starts with the DaemonSet's own arguments, paths moved into the temp dir.
        moved = {socket_path: str(temp / "agent.sock"),
                 option["--policy"]: str(policy_dir / "default.toml"),
                 option["--policy-dir"]: str(policy_dir),
                 option["--audit"]: str(temp / "audit.jsonl")}
        agent_process = subprocess.Popen([warden] + [moved.get(a, a) for a in args],
                                         stderr=subprocess.PIPE, text=True)
        served = False
        for _ in range(500):
            if agent_process.poll() is not None:
                break
            try:
                with socket.socket(socket.AF_UNIX) as client:
                    client.connect(str(temp / "agent.sock"))
                served = True
                break
            except OSError:
                time.sleep(0.01)
        agent_process.send_signal(signal.SIGTERM)
        _, err = agent_process.communicate(timeout=10)
        check(served, "the agent serves its socket with the DaemonSet's arguments: " + err)
        check(agent_process.returncode == 0, "the agent stops cleanly on SIGTERM: " + err)

    if failures:
        sys.exit(1)
    print("the manifests hold")


if __name__ == "__main__":
    main()
