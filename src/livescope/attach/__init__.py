"""Attaching to a running process: sys.remote_exec on 3.14+, ptrace (gdb) below."""
