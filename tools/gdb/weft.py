"""weft.py: gdb commands for Weft green threads, in a live process or a core file.

    (gdb) source tools/gdb/weft.py
    (gdb) info weft-threads        every green thread of every live scheduler
    (gdb) weft-bt ID|NAME          native backtrace of a suspended green thread

The registry is found from the global `weft_debug_schedulers` (every live
SchedulerImpl, linked through debug_next_; [threads.debug.schedulers]), then each
scheduler's registry list (reg_head_, reg_next). Needs the binary's debug info (the
default build has -g). A suspended thread is unwound by frame pointers from the
context Boost.Context saved at its switch: at the saved stack pointer lie the FPU
control words, r12, r13, r14, r15, rbx, rbp and the return address
([runtime.dump.fcontext]), as runtime/stack_dump.cc does. A running thread has no
saved context: use gdb's own `thread N` + `bt` on its worker's OS thread.
"""
import struct

import gdb

_STATES = {"kRunnable": "runnable", "kRunning": "running", "kBlocked": "blocked",
           "kSleeping": "sleeping", "kDone": "done"}


def _atomic(v):
    """The value inside a std::atomic (libstdc++: _M_i, or _M_b._M_p for pointers)."""
    for path in (("_M_i",), ("_M_b", "_M_p")):
        try:
            x = v
            for field in path:
                x = x[field]
            return x
        except gdb.error:
            pass
    return v


def _enum_name(v, table=None):
    s = str(_atomic(v)).split("::")[-1]
    if table is not None:
        return table.get(s, s)
    # kChannelReceive -> channel receive
    if s.startswith("k"):
        s = s[1:]
    out = ""
    for c in s:
        out += (" " + c.lower()) if c.isupper() and out else c.lower()
    return out


def _string(v):
    try:
        n = int(v["_M_string_length"])
        return v["_M_dataplus"]["_M_p"].string(length=n)
    except gdb.error:
        return str(v)


def _read_u64(addr):
    mem = gdb.selected_inferior().read_memory(addr, 8)
    return struct.unpack("<Q", bytes(mem))[0]


def _schedulers():
    try:
        s = gdb.parse_and_eval("weft_debug_schedulers")
    except gdb.error:
        raise gdb.GdbError("weft: no symbol weft_debug_schedulers (not a Weft binary?)")
    while int(s) != 0:
        yield s
        s = s["debug_next_"]


def _threads():
    for s in _schedulers():
        t = s["reg_head_"]
        while int(t) != 0:
            yield s, t
            t = t["reg_next"]


def _describe(t):
    tid = int(t["id"])
    name = _string(t["name"])
    state = _enum_name(t["state"], _STATES)
    reason = _enum_name(t["reason"])
    worker = int(_atomic(t["worker"]))
    line = 'thread %d "%s" %s' % (tid, name, state)
    if reason != "none":
        line += " waiting on %s" % reason
        obj = int(_atomic(t["wait_object"]))
        if obj:
            line += " 0x%x" % obj
    line += ", worker %d" % worker
    return line


def _symbol(pc):
    # pc is a return address: look up the call instruction before it.
    look = pc - 1
    name = None
    try:
        block = gdb.block_for_pc(look)
        while block is not None and block.function is None:
            block = block.superblock
        if block is not None and block.function is not None:
            name = block.function.print_name
    except RuntimeError:
        pass
    if name is None:
        info = gdb.execute("info symbol 0x%x" % look, to_string=True).strip()
        name = info.split(" in section")[0] if not info.startswith("No symbol") else "??"
    sal = gdb.find_pc_line(look)
    where = ""
    if sal.symtab is not None:
        where = " at %s:%d" % (sal.symtab.filename, sal.line)
    return name + where


def _backtrace(t):
    state = _enum_name(t["state"], _STATES)
    if state == "running":
        return ["running on worker %d: no saved context (use `thread N` and `bt` on that "
                "worker's OS thread)" % int(_atomic(t["worker"]))]
    stacks = t["stacks"]
    ctx = int(t["ctx"])
    if int(stacks) == 0 or ctx == 0:
        return ["no native stack (done or never ran)"]
    lo = int(stacks["native"]["limit"])
    hi = int(stacks["native"]["top"])
    sp = ctx
    if sp < lo or sp + 64 > hi:
        return ["saved stack pointer 0x%x outside the stack [0x%x, 0x%x)" % (sp, lo, hi)]
    rbp = _read_u64(sp + 48)
    pc = _read_u64(sp + 56)
    frames = [pc]
    for _ in range(64):
        if rbp < sp or rbp + 16 > hi or rbp % 8 != 0:
            break
        ret = _read_u64(rbp + 8)
        if ret == 0:
            break
        frames.append(ret)
        nxt = _read_u64(rbp)
        if nxt <= rbp:
            break
        rbp = nxt
    return ["#%-2d 0x%x in %s" % (i, pc, _symbol(pc)) for i, pc in enumerate(frames)]


class InfoWeftThreads(gdb.Command):
    """List every Weft green thread: id, name, state, wait reason, worker."""

    def __init__(self):
        super().__init__("info weft-threads", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        n = 0
        for _, t in _threads():
            gdb.write(_describe(t) + "\n")
            n += 1
        gdb.write("weft: %d green threads\n" % n)


class WeftBacktrace(gdb.Command):
    """weft-bt ID|NAME: the native backtrace of a suspended Weft green thread."""

    def __init__(self):
        super().__init__("weft-bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        key = arg.strip()
        if not key:
            raise gdb.GdbError("usage: weft-bt ID|NAME")
        for _, t in _threads():
            if str(int(t["id"])) == key or _string(t["name"]) == key:
                gdb.write(_describe(t) + "\n")
                for line in _backtrace(t):
                    gdb.write("  " + line + "\n")
                return
        raise gdb.GdbError("weft: no green thread %s" % key)


InfoWeftThreads()
WeftBacktrace()
