"""The `openstack` console script, imported once and forked for each command.

/usr/bin/openstack is `sys.exit(openstackclient.shell.main())`; most of its time (about 1.5 s of
CPU a command) is the import of openstackclient and its plugins. This process makes that import
(and its plugins' modules') once, then for each request runs `main(argv)` in a forked child with the request's environment,
its stdout and stderr in files of its own, as the console script would: the same code, a fresh
process state for each command, its exit status.

Requests arrive on stdin, one JSON object a line: {"id", "argv", "env", "timeout"}. Each answer
leaves on stdout, one JSON object a line: {"id", "status", "signal", "stdout", "stderr"} (status
is null and signal set when the child was killed, as by the timeout). Children run at the same
time; answers leave in the order the children end. EOF on stdin: the children finish, then exit.
"""
import json
import os
import select
import signal
import sys
import tempfile
import traceback

from importlib import import_module
from importlib.metadata import entry_points

from openstackclient import shell

# The modules the client's plugins name (its commands, keystoneauth's auth plugins), imported
# here once: each child would otherwise import those it loads again.
points = entry_points()
for group in points.groups:
    if not group.startswith(('openstack.', 'keystoneauth1.plugin', 'cliff.formatter')):
        continue
    for point in points.select(group=group):
        try:
            import_module(point.module)
        except Exception:  # a plugin the console script could not load either
            pass

answers = os.dup(1)
children = {}  # pid -> (request id, stdout path, stderr path)


def run_child(request, out_path, err_path):
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(os.open(out_path, os.O_WRONLY | os.O_TRUNC), 1)
    os.dup2(os.open(err_path, os.O_WRONLY | os.O_TRUNC), 2)
    os.environ.clear()
    os.environ.update(request['env'])
    sys.argv = ['openstack', *request['argv']]
    signal.alarm(int(request.get('timeout', 60)))
    code = 1
    try:
        code = shell.main(request['argv'])
    except SystemExit as e:
        code = e.code
    except BaseException:
        traceback.print_exc()
        code = 1
    if isinstance(code, str):  # sys.exit("message") prints it and exits 1
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(0 if code is None else int(code) & 0xFF)


def read(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        return f.read()


def reap():
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        request_id, out_path, err_path = children.pop(pid)
        answer = {
            'id': request_id,
            'status': os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            'signal': os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            'stdout': read(out_path),
            'stderr': read(err_path),
        }
        os.unlink(out_path)
        os.unlink(err_path)
        line = (json.dumps(answer) + '\n').encode()
        while line:
            line = line[os.write(answers, line):]


def main():
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    pending = b''
    stdin = sys.stdin.fileno()
    open_input = True
    while open_input or children:
        ready, _, _ = select.select([stdin, wake_r] if open_input else [wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            reap()
        if stdin in ready:
            chunk = os.read(stdin, 65536)
            if not chunk:
                open_input = False
            pending += chunk
            *lines, pending = pending.split(b'\n')
            for line in lines:
                if not line.strip():
                    continue
                request = json.loads(line)
                fd_out, out_path = tempfile.mkstemp(prefix='osc-out-')
                fd_err, err_path = tempfile.mkstemp(prefix='osc-err-')
                os.close(fd_out)
                os.close(fd_err)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    os.close(wake_r)
                    os.close(wake_w)
                    run_child(request, out_path, err_path)
                children[pid] = (request['id'], out_path, err_path)
        reap()


if __name__ == '__main__':
    main()
